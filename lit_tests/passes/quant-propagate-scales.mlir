// RUN: optc %s -p quant-propagate-scales | filecheck %s
// Data movement runs on the quantized integers: a per-tensor dequantize moves below it, a
// quantize above it; max_pool only where the scale is known and positive, concat only of
// dequantizes with equal parameters. tests/test_pass_propagate_scales.py runs each function
// before and after the pass.

// CHECK-LABEL: func.func @reshape_between_dq_and_q
// CHECK:         %[[R:.*]] = graph.reshape %q : tensor<2x3x4xi8> -> tensor<2x12xi8>
// CHECK-NEXT:    %[[D:.*]] = quant.dequantize %[[R]] scale(%s : tensor<f32>) : tensor<2x12xi8> -> tensor<2x12xf32>
// CHECK-NEXT:    %{{.*}} = quant.quantize %[[D]]
func.func @reshape_between_dq_and_q(%q: tensor<2x3x4xi8>) -> tensor<2x12xi8> {
  %s = graph.constant dense<0.1> : tensor<f32>
  %f = quant.dequantize %q scale(%s : tensor<f32>) : tensor<2x3x4xi8> -> tensor<2x3x4xf32>
  %r = graph.reshape %f : tensor<2x3x4xf32> -> tensor<2x12xf32>
  %y = quant.quantize %r scale(%s : tensor<f32>) : tensor<2x12xf32> -> tensor<2x12xi8>
  func.return %y : tensor<2x12xi8>
}

// CHECK-LABEL: func.func @max_pool_positive_scale
// CHECK:         %[[P:.*]] = graph.max_pool %q {{.*}} : tensor<1x2x4x4xui8> -> tensor<1x2x2x2xui8>
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %[[P]] {{.*}} : tensor<1x2x2x2xui8> -> tensor<1x2x2x2xui8>
// CHECK-NEXT:    quant.dequantize %[[T]] scale(%s : tensor<f32>) zero_point(%z : tensor<ui8>)
func.func @max_pool_positive_scale(%q: tensor<1x2x4x4xui8>) -> tensor<1x2x2x2xf32> {
  %s = graph.constant dense<0.1> : tensor<f32>
  %z = graph.constant dense<128> : tensor<ui8>
  %f = quant.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<ui8>) : tensor<1x2x4x4xui8> -> tensor<1x2x4x4xf32>
  %p = graph.max_pool %f {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %t = graph.transpose %p {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xf32>
  func.return %t : tensor<1x2x2x2xf32>
}

// A negative scale reverses the order (and a run-time one might): the pool stays in float.
// CHECK-LABEL: func.func @max_pool_negative_scale
// CHECK:         quant.dequantize
// CHECK-NEXT:    graph.max_pool %{{.*}} : tensor<1x1x4x4xf32> -> tensor<1x1x2x2xf32>
func.func @max_pool_negative_scale(%q: tensor<1x1x4x4xi8>) -> tensor<1x1x2x2xf32> {
  %s = graph.constant dense<-0.1> : tensor<f32>
  %f = quant.dequantize %q scale(%s : tensor<f32>) : tensor<1x1x4x4xi8> -> tensor<1x1x4x4xf32>
  %p = graph.max_pool %f {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x1x4x4xf32> -> tensor<1x1x2x2xf32>
  func.return %p : tensor<1x1x2x2xf32>
}

// CHECK-LABEL: func.func @concat
// CHECK:         %[[C:.*]] = graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xi8>, tensor<2x5xi8>) -> tensor<2x8xi8>
// CHECK-NEXT:    %[[D:.*]] = quant.dequantize %[[C]] scale(%s : tensor<f32>) : tensor<2x8xi8> -> tensor<2x8xf32>
// CHECK:         graph.concat %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
func.func @concat(%a: tensor<2x3xi8>, %b: tensor<2x5xi8>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %s = graph.constant dense<0.1> : tensor<f32>
  %t = graph.constant dense<0.1> : tensor<f32>
  %u = graph.constant dense<0.2> : tensor<f32>
  %af = quant.dequantize %a scale(%s : tensor<f32>) : tensor<2x3xi8> -> tensor<2x3xf32>
  %bf = quant.dequantize %b scale(%t : tensor<f32>) : tensor<2x5xi8> -> tensor<2x5xf32>
  %bg = quant.dequantize %b scale(%u : tensor<f32>) : tensor<2x5xi8> -> tensor<2x5xf32>
  %same = graph.concat %af, %bf {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  %other = graph.concat %af, %bg {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  func.return %same, %other : tensor<2x8xf32>, tensor<2x8xf32>
}

// A quantize moves above the movement that computes its input, when it is its only reader.
// CHECK-LABEL: func.func @quantize_above_movement
// CHECK:         %[[R:.*]] = graph.relu %x
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<5.000000e-02> : tensor<f32>
// CHECK-NEXT:    %[[Q:.*]] = quant.quantize %[[R]] scale(%[[S]] : tensor<f32>) : tensor<4x6xf32> -> tensor<4x6xi8>
// CHECK-NEXT:    %{{.*}} = graph.transpose %[[Q]] {perm = array<i64: 1, 0>} : tensor<4x6xi8> -> tensor<6x4xi8>
func.func @quantize_above_movement(%x: tensor<4x6xf32>) -> tensor<6x4xi8> {
  %r = graph.relu %x : tensor<4x6xf32>
  %t = graph.transpose %r {perm = array<i64: 1, 0>} : tensor<4x6xf32> -> tensor<6x4xf32>
  %s = graph.constant dense<0.05> : tensor<f32>  // after the transpose: copied above it
  %q = quant.quantize %t scale(%s : tensor<f32>) : tensor<6x4xf32> -> tensor<6x4xi8>
  func.return %q : tensor<6x4xi8>
}

// Per-axis dequantizes stay: their axis would have to follow the movement.
// CHECK-LABEL: func.func @per_axis_stays
// CHECK:         quant.dequantize
// CHECK-NEXT:    graph.reshape %{{.*}} : tensor<2x3xf32> -> tensor<6xf32>
func.func @per_axis_stays(%q: tensor<2x3xi8>) -> tensor<6xf32> {
  %s = graph.constant dense<[0.1, 0.2, 0.3]> : tensor<3xf32>
  %f = quant.dequantize %q scale(%s : tensor<3xf32>) {axis = 1 : i64} : tensor<2x3xi8> -> tensor<2x3xf32>
  %r = graph.reshape %f : tensor<2x3xf32> -> tensor<6xf32>
  func.return %r : tensor<6xf32>
}

// A chain of views and a slice: the dequantize moves below each in turn.
// CHECK-LABEL: func.func @view_chain
// CHECK:         graph.unsqueeze %q {{.*}} : tensor<5x7xi8> -> tensor<5x1x7xi8>
// CHECK-NEXT:    graph.squeeze {{.*}} : tensor<5x1x7xi8> -> tensor<5x7xi8>
// CHECK-NEXT:    graph.slice {{.*}} : tensor<5x7xi8> -> tensor<3x2xi8>
// CHECK-NEXT:    graph.flatten {{.*}} : tensor<3x2xi8> -> tensor<3x2xi8>
// CHECK-NEXT:    quant.dequantize
func.func @view_chain(%q: tensor<5x7xi8>) -> tensor<3x2xf32> {
  %s = graph.constant dense<0.1> : tensor<f32>
  %f = quant.dequantize %q scale(%s : tensor<f32>) : tensor<5x7xi8> -> tensor<5x7xf32>
  %u = graph.unsqueeze %f {axes = array<i64: 1>} : tensor<5x7xf32> -> tensor<5x1x7xf32>
  %v = graph.squeeze %u {axes = array<i64: 1>} : tensor<5x1x7xf32> -> tensor<5x7xf32>
  %w = graph.slice %v {starts = array<i64: 4, 1>, steps = array<i64: -2, 3>} : tensor<5x7xf32> -> tensor<3x2xf32>
  %x = graph.flatten %w {axis = 1 : i64} : tensor<3x2xf32> -> tensor<3x2xf32>
  func.return %x : tensor<3x2xf32>
}
