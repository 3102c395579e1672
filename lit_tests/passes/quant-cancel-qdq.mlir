// RUN: optc %s -p quant-cancel-qdq | filecheck %s
// A quantize that undoes the dequantize it reads (same scale and zero point, integer storage,
// an f32/f64 round trip, scales known and invertible) is the dequantize's input; every near
// miss stays. tests/test_pass_cancel_qdq.py runs each function before and after the pass.

// CHECK-LABEL: func.func @per_tensor
// CHECK-NEXT:    %{{.*}} = graph.constant
// CHECK-NEXT:    %{{.*}} = graph.constant
// CHECK-NEXT:    %[[F:.*]] = quant.dequantize %q
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[F]]
// CHECK-NEXT:    func.return %q, %[[R]] : tensor<2x8xi8>, tensor<2x8xf32>
func.func @per_tensor(%q: tensor<2x8xi8>) -> (tensor<2x8xi8>, tensor<2x8xf32>) {
  %s = graph.constant dense<0.0375> : tensor<f32>
  %z = graph.constant dense<3> : tensor<i8>
  %f = quant.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>) : tensor<2x8xi8> -> tensor<2x8xf32>
  %r = quant.quantize %f scale(%s : tensor<f32>) zero_point(%z : tensor<i8>) : tensor<2x8xf32> -> tensor<2x8xi8>
  %relu = graph.relu %f : tensor<2x8xf32>
  func.return %r, %relu : tensor<2x8xi8>, tensor<2x8xf32>
}

// Per axis, unsigned, with equal constants that are distinct values.
// CHECK-LABEL: func.func @per_axis_equal_constants
// CHECK-NOT:     quant.quantize
// CHECK:         func.return %q : tensor<4x3xui8>
func.func @per_axis_equal_constants(%q: tensor<4x3xui8>) -> tensor<4x3xui8> {
  %s1 = graph.constant dense<[0.5, 0.25, 3.0]> : tensor<3xf32>
  %z1 = graph.constant dense<[128, 0, 255]> : tensor<3xui8>
  %s2 = graph.constant dense<[0.5, 0.25, 3.0]> : tensor<3xf32>
  %z2 = graph.constant dense<[128, 0, 255]> : tensor<3xui8>
  %f = quant.dequantize %q scale(%s1 : tensor<3xf32>) zero_point(%z1 : tensor<3xui8>) {axis = 1 : i64} : tensor<4x3xui8> -> tensor<4x3xf32>
  %r = quant.quantize %f scale(%s2 : tensor<3xf32>) zero_point(%z2 : tensor<3xui8>) {axis = 1 : i64} : tensor<4x3xf32> -> tensor<4x3xui8>
  func.return %r : tensor<4x3xui8>
}

// Near misses: another scale, another zero point, a scale of 0, an f16 round trip, a scale
// known only at run time.
// CHECK-LABEL: func.func @near_misses
// CHECK-COUNT-5: quant.quantize
func.func @near_misses(%q: tensor<8xi8>, %runtime: tensor<f32>) -> (tensor<8xi8>, tensor<8xi8>, tensor<8xi8>, tensor<8xi8>, tensor<8xi8>) {
  %s = graph.constant dense<0.1> : tensor<f32>
  %t = graph.constant dense<0.2> : tensor<f32>
  %zero = graph.constant dense<0.0> : tensor<f32>
  %z = graph.constant dense<1> : tensor<i8>
  %f = quant.dequantize %q scale(%s : tensor<f32>) : tensor<8xi8> -> tensor<8xf32>
  %a = quant.quantize %f scale(%t : tensor<f32>) : tensor<8xf32> -> tensor<8xi8>
  %b = quant.quantize %f scale(%s : tensor<f32>) zero_point(%z : tensor<i8>) : tensor<8xf32> -> tensor<8xi8>
  %g = quant.dequantize %q scale(%zero : tensor<f32>) : tensor<8xi8> -> tensor<8xf32>
  %c = quant.quantize %g scale(%zero : tensor<f32>) : tensor<8xf32> -> tensor<8xi8>
  %h = quant.dequantize %q scale(%s : tensor<f32>) : tensor<8xi8> -> tensor<8xf16>
  %d = quant.quantize %h scale(%s : tensor<f32>) : tensor<8xf16> -> tensor<8xi8>
  %k = quant.dequantize %q scale(%runtime : tensor<f32>) : tensor<8xi8> -> tensor<8xf32>
  %e = quant.quantize %k scale(%runtime : tensor<f32>) : tensor<8xf32> -> tensor<8xi8>
  func.return %a, %b, %c, %d, %e : tensor<8xi8>, tensor<8xi8>, tensor<8xi8>, tensor<8xi8>, tensor<8xi8>
}
