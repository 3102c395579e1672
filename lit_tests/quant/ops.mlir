// RUN: optc %s | optc | filecheck %s
// RUN: optc %s --print-op-generic | optc | filecheck %s
// Round trip of every quant op: scales and zero points are operands, per tensor (rank 0),
// per axis (1-D, with `axis`) or blocked (`axis` and `block_size`); integer contractions
// accumulate in i32, whatever their inputs.

// CHECK-LABEL: func.func @quantize
func.func @quantize(%x: tensor<2x4xf32>, %s: tensor<f32>, %sa: tensor<4xf32>, %za: tensor<4xi8>, %sb: tensor<2x2xf16>, %zb: tensor<2x2xui4>) -> (tensor<2x4xui8>, tensor<2x4xi8>, tensor<2x4xui4>, tensor<2x4xf8E4M3FN>) {
  // CHECK: quant.quantize %{{.*}} scale(%{{.*}} : tensor<f32>) : tensor<2x4xf32> -> tensor<2x4xui8>
  %t = quant.quantize %x scale(%s : tensor<f32>) : tensor<2x4xf32> -> tensor<2x4xui8>
  // CHECK: quant.quantize %{{.*}} scale(%{{.*}} : tensor<4xf32>) zero_point(%{{.*}} : tensor<4xi8>) {axis = 1 : i64} : tensor<2x4xf32> -> tensor<2x4xi8>
  %a = quant.quantize %x scale(%sa : tensor<4xf32>) zero_point(%za : tensor<4xi8>) {axis = 1 : i64} : tensor<2x4xf32> -> tensor<2x4xi8>
  // CHECK: quant.quantize %{{.*}} scale(%{{.*}} : tensor<2x2xf16>) zero_point(%{{.*}} : tensor<2x2xui4>) {axis = 1 : i64, block_size = 2 : i64} : tensor<2x4xf32> -> tensor<2x4xui4>
  %b = quant.quantize %x scale(%sb : tensor<2x2xf16>) zero_point(%zb : tensor<2x2xui4>) {axis = 1 : i64, block_size = 2 : i64} : tensor<2x4xf32> -> tensor<2x4xui4>
  // CHECK: quant.quantize %{{.*}} scale(%{{.*}} : tensor<f32>) {saturate = 0 : i64} : tensor<2x4xf32> -> tensor<2x4xf8E4M3FN>
  %f = quant.quantize %x scale(%s : tensor<f32>) {saturate = 0 : i64} : tensor<2x4xf32> -> tensor<2x4xf8E4M3FN>
  func.return %t, %a, %b, %f : tensor<2x4xui8>, tensor<2x4xi8>, tensor<2x4xui4>, tensor<2x4xf8E4M3FN>
}

// CHECK-LABEL: func.func @dequantize
func.func @dequantize(%q: tensor<4x3xi8>, %s: tensor<4xf32>, %z: tensor<4xi8>, %b: tensor<3xi32>, %bs: tensor<bf16>, %e: tensor<3xf8E5M2>) -> (tensor<4x3xf16>, tensor<3xbf16>, tensor<3xf32>) {
  // CHECK: quant.dequantize %{{.*}} scale(%{{.*}} : tensor<4xf32>) zero_point(%{{.*}} : tensor<4xi8>) {axis = 0 : i64} : tensor<4x3xi8> -> tensor<4x3xf16>
  %w = quant.dequantize %q scale(%s : tensor<4xf32>) zero_point(%z : tensor<4xi8>) {axis = 0 : i64} : tensor<4x3xi8> -> tensor<4x3xf16>
  // CHECK: quant.dequantize %{{.*}} scale(%{{.*}} : tensor<bf16>) : tensor<3xi32> -> tensor<3xbf16>
  %bias = quant.dequantize %b scale(%bs : tensor<bf16>) : tensor<3xi32> -> tensor<3xbf16>
  // CHECK: quant.dequantize %{{.*}} scale(%{{.*}} : tensor<bf16>) : tensor<3xf8E5M2> -> tensor<3xf32>
  %f = quant.dequantize %e scale(%bs : tensor<bf16>) : tensor<3xf8E5M2> -> tensor<3xf32>
  func.return %w, %bias, %f : tensor<4x3xf16>, tensor<3xbf16>, tensor<3xf32>
}

// CHECK-LABEL: func.func @contractions
func.func @contractions(%a: tensor<2x4x3xui8>, %b: tensor<3x5xi8>, %za: tensor<ui8>, %zb: tensor<5xi8>, %x: tensor<1x2x6x6xui8>, %w: tensor<4x1x3x3xi8>, %zw: tensor<4xi8>) -> (tensor<2x4x5xi32>, tensor<1x4x3x3xi32>) {
  // CHECK: quant.matmul %{{.*}}, %{{.*}} lhs_zero_point(%{{.*}} : tensor<ui8>) rhs_zero_point(%{{.*}} : tensor<5xi8>) : (tensor<2x4x3xui8>, tensor<3x5xi8>) -> tensor<2x4x5xi32>
  %m = quant.matmul %a, %b lhs_zero_point(%za : tensor<ui8>) rhs_zero_point(%zb : tensor<5xi8>) : (tensor<2x4x3xui8>, tensor<3x5xi8>) -> tensor<2x4x5xi32>
  // CHECK: quant.conv %{{.*}}, %{{.*}} input_zero_point(%{{.*}} : tensor<ui8>) weight_zero_point(%{{.*}} : tensor<4xi8>) {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x2x6x6xui8>, tensor<4x1x3x3xi8>) -> tensor<1x4x3x3xi32>
  %c = quant.conv %x, %w input_zero_point(%za : tensor<ui8>) weight_zero_point(%zw : tensor<4xi8>) {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x2x6x6xui8>, tensor<4x1x3x3xi8>) -> tensor<1x4x3x3xi32>
  func.return %m, %c : tensor<2x4x5xi32>, tensor<1x4x3x3xi32>
}

// CHECK-LABEL: func.func @requantize
func.func @requantize(%acc: tensor<2x5xi32>, %m: tensor<5xf32>, %z: tensor<i8>, %zc: tensor<5xui8>, %s: tensor<f16>) -> (tensor<2x5xi8>, tensor<2x5xui8>, tensor<2x5xf16>) {
  // CHECK: quant.requantize %{{.*}} scale(%{{.*}} : tensor<5xf32>) zero_point(%{{.*}} : tensor<i8>) {axis = 1 : i64} : tensor<2x5xi32> -> tensor<2x5xi8>
  %q = quant.requantize %acc scale(%m : tensor<5xf32>) zero_point(%z : tensor<i8>) {axis = 1 : i64} : tensor<2x5xi32> -> tensor<2x5xi8>
  // CHECK: quant.requantize %{{.*}} scale(%{{.*}} : tensor<5xf32>) zero_point(%{{.*}} : tensor<5xui8>) {axis = 1 : i64} : tensor<2x5xi32> -> tensor<2x5xui8>
  %u = quant.requantize %acc scale(%m : tensor<5xf32>) zero_point(%zc : tensor<5xui8>) {axis = 1 : i64} : tensor<2x5xi32> -> tensor<2x5xui8>
  // CHECK: quant.requantize %{{.*}} scale(%{{.*}} : tensor<f16>) : tensor<2x5xi32> -> tensor<2x5xf16>
  %f = quant.requantize %acc scale(%s : tensor<f16>) : tensor<2x5xi32> -> tensor<2x5xf16>
  func.return %q, %u, %f : tensor<2x5xi8>, tensor<2x5xui8>, tensor<2x5xf16>
}
