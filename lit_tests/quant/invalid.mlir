// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Every rule the quant ops check, each in the words the verifier uses.

func.func @main(%x: tensor<4xi32>, %s: tensor<f32>) -> tensor<4xi8> {
  // CHECK: 'quant.quantize' op expects input of a float type (f32, f16, bf16), got tensor<4xi32>
  %y = quant.quantize %x scale(%s : tensor<f32>) : tensor<4xi32> -> tensor<4xi8>
  func.return %y : tensor<4xi8>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xi32> {
  // CHECK: 'quant.quantize' op expects result of a quantized type (i8, ui8, i16, ui16, i4, ui4, i2, ui2, f8E4M3FN, f8E4M3FNUZ, f8E5M2, f8E5M2FNUZ, f4E2M1FN), got tensor<4xi32>
  %y = quant.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> tensor<4xi32>
  func.return %y : tensor<4xi32>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<i8>) -> tensor<4xi8> {
  // CHECK: 'quant.quantize' op expects scale of a float type (f32, f16, bf16), got tensor<i8>
  %y = quant.quantize %x scale(%s : tensor<i8>) : tensor<4xf32> -> tensor<4xi8>
  func.return %y : tensor<4xi8>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %s: tensor<f32>) -> tensor<3x2xi8> {
  // CHECK: 'quant.quantize' op expects result shape equal to input shape, got tensor<2x3xf32> -> tensor<3x2xi8>
  %y = quant.quantize %x scale(%s : tensor<f32>) : tensor<2x3xf32> -> tensor<3x2xi8>
  func.return %y : tensor<3x2xi8>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %s: tensor<f32>) -> tensor<2x3xi8> {
  // CHECK: 'quant.quantize' op expects no axis or block_size with a per-tensor (rank-0) scale, got tensor<f32>
  %y = quant.quantize %x scale(%s : tensor<f32>) {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xi8>
  func.return %y : tensor<2x3xi8>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %s: tensor<3xf32>) -> tensor<2x3xi8> {
  // CHECK: 'quant.quantize' op expects an axis with a per-axis or blocked scale, got tensor<3xf32>
  %y = quant.quantize %x scale(%s : tensor<3xf32>) : tensor<2x3xf32> -> tensor<2x3xi8>
  func.return %y : tensor<2x3xi8>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %s: tensor<3xf32>) -> tensor<2x3xi8> {
  // CHECK: 'quant.quantize' op expects axis in [0, 2) for tensor<2x3xf32>, got 2
  %y = quant.quantize %x scale(%s : tensor<3xf32>) {axis = 2 : i64} : tensor<2x3xf32> -> tensor<2x3xi8>
  func.return %y : tensor<2x3xi8>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %s: tensor<3xf32>) -> tensor<2x3xi8> {
  // CHECK: 'quant.quantize' op expects a per-axis scale of shape [2] (axis 0 of tensor<2x3xf32>), got tensor<3xf32>
  %y = quant.quantize %x scale(%s : tensor<3xf32>) {axis = 0 : i64} : tensor<2x3xf32> -> tensor<2x3xi8>
  func.return %y : tensor<2x3xi8>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %s: tensor<2x3xf32>) -> tensor<2x3xi8> {
  // CHECK: 'quant.quantize' op expects a per-axis scale of shape [3] (axis 1 of tensor<2x3xf32>), got tensor<2x3xf32> (a blocked scale needs block_size)
  %y = quant.quantize %x scale(%s : tensor<2x3xf32>) {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xi8>
  func.return %y : tensor<2x3xi8>
}

// -----

func.func @main(%x: tensor<2x4xf32>, %s: tensor<2x2xf32>) -> tensor<2x4xi8> {
  // CHECK: 'quant.quantize' op expects block_size to be at least 1, got 0
  %y = quant.quantize %x scale(%s : tensor<2x2xf32>) {axis = 1 : i64, block_size = 0 : i64} : tensor<2x4xf32> -> tensor<2x4xi8>
  func.return %y : tensor<2x4xi8>
}

// -----

func.func @main(%x: tensor<2x4xf32>, %s: tensor<2x3xf32>) -> tensor<2x4xi8> {
  // CHECK: 'quant.quantize' op expects a blocked scale of shape [2, 2] (axis 1 of tensor<2x4xf32> in blocks of 3), got tensor<2x3xf32>
  %y = quant.quantize %x scale(%s : tensor<2x3xf32>) {axis = 1 : i64, block_size = 3 : i64} : tensor<2x4xf32> -> tensor<2x4xi8>
  func.return %y : tensor<2x4xi8>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<ui8>) -> tensor<4xi8> {
  // CHECK: 'quant.quantize' op expects zero_point of element type i8 (the quantized type), got tensor<ui8>
  %y = quant.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<ui8>) : tensor<4xf32> -> tensor<4xi8>
  func.return %y : tensor<4xi8>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<1xi8>) -> tensor<4xi8> {
  // CHECK: 'quant.quantize' op expects zero_point of the scale's shape [], got tensor<1xi8>
  %y = quant.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<1xi8>) : tensor<4xf32> -> tensor<4xi8>
  func.return %y : tensor<4xi8>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xf8E4M3FN> {
  // CHECK: 'quant.quantize' op expects saturate for a quantization to f8E4M3FN
  %y = quant.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> tensor<4xf8E4M3FN>
  func.return %y : tensor<4xf8E4M3FN>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xi8> {
  // CHECK: 'quant.quantize' op expects saturate only for float8 results, not for a quantization to i8
  %y = quant.quantize %x scale(%s : tensor<f32>) {saturate = 1 : i64} : tensor<4xf32> -> tensor<4xi8>
  func.return %y : tensor<4xi8>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xf8E5M2> {
  // CHECK: 'quant.quantize' op expects saturate to be 0 or 1, got 2
  %y = quant.quantize %x scale(%s : tensor<f32>) {saturate = 2 : i64} : tensor<4xf32> -> tensor<4xf8E5M2>
  func.return %y : tensor<4xf8E5M2>
}

// -----

func.func @main(%x: tensor<4xf16>, %s: tensor<f32>) -> tensor<4xf32> {
  // CHECK: 'quant.dequantize' op expects input of a quantized type (i8, ui8, i16, ui16, i4, ui4, i2, ui2, f8E4M3FN, f8E4M3FNUZ, f8E5M2, f8E5M2FNUZ, f4E2M1FN, i32), got tensor<4xf16>
  %y = quant.dequantize %x scale(%s : tensor<f32>) : tensor<4xf16> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xi8>, %s: tensor<f32>) -> tensor<4xi32> {
  // CHECK: 'quant.dequantize' op expects result of a float type (f32, f16, bf16), got tensor<4xi32>
  %y = quant.dequantize %x scale(%s : tensor<f32>) : tensor<4xi8> -> tensor<4xi32>
  func.return %y : tensor<4xi32>
}

// -----

func.func @main(%x: tensor<2x3xui8>, %s: tensor<3xf32>, %z: tensor<3xi8>) -> tensor<2x3xf32> {
  // CHECK: 'quant.dequantize' op expects zero_point of element type ui8 (the quantized type), got tensor<3xi8>
  %y = quant.dequantize %x scale(%s : tensor<3xf32>) zero_point(%z : tensor<3xi8>) {axis = 1 : i64} : tensor<2x3xui8> -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<4xi16>, %s: tensor<f32>) -> tensor<4xi8> {
  // CHECK: 'quant.requantize' op expects an i32 accumulator as input, got tensor<4xi16>
  %y = quant.requantize %x scale(%s : tensor<f32>) : tensor<4xi16> -> tensor<4xi8>
  func.return %y : tensor<4xi8>
}

// -----

func.func @main(%x: tensor<4xi32>, %s: tensor<f32>) -> tensor<4xi4> {
  // CHECK: 'quant.requantize' op expects result of an integer quantized or a float type (i8, ui8, i16, ui16, f32, f16, bf16), got tensor<4xi4>
  %y = quant.requantize %x scale(%s : tensor<f32>) : tensor<4xi32> -> tensor<4xi4>
  func.return %y : tensor<4xi4>
}

// -----

func.func @main(%x: tensor<2x4xi32>, %s: tensor<2x2xf32>) -> tensor<2x4xi8> {
  // CHECK: 'quant.requantize' op expects a per-axis scale of shape [4] (axis 1 of tensor<2x4xi32>), got tensor<2x2xf32>{{$}}
  %y = quant.requantize %x scale(%s : tensor<2x2xf32>) {axis = 1 : i64} : tensor<2x4xi32> -> tensor<2x4xi8>
  func.return %y : tensor<2x4xi8>
}

// -----

func.func @main(%x: tensor<4xi32>, %s: tensor<f32>, %z: tensor<f32>) -> tensor<4xf32> {
  // CHECK: 'quant.requantize' op expects no zero_point for a float result, got tensor<4xf32>
  %y = quant.requantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<f32>) : tensor<4xi32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<2x3xi32>, %s: tensor<3xf32>, %z: tensor<2xi8>) -> tensor<2x3xi8> {
  // CHECK: 'quant.requantize' op expects zero_point of the scale's shape [3], got tensor<2xi8>
  %y = quant.requantize %x scale(%s : tensor<3xf32>) zero_point(%z : tensor<2xi8>) {axis = 1 : i64} : tensor<2x3xi32> -> tensor<2x3xi8>
  func.return %y : tensor<2x3xi8>
}

// -----

func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x4xi8>) -> tensor<2x4xi32> {
  // CHECK: 'quant.matmul' op expects lhs of an 8-bit integer type (i8, ui8), got tensor<2x3xf32>
  %y = quant.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xi8>) -> tensor<2x4xi32>
  func.return %y : tensor<2x4xi32>
}

// -----

func.func @main(%a: tensor<2x3xi8>, %b: tensor<3xi8>) -> tensor<2xi32> {
  // CHECK: 'quant.matmul' op expects rhs of rank 2 or 3 or 4 or 5 or 6, got tensor<3xi8>
  %y = quant.matmul %a, %b : (tensor<2x3xi8>, tensor<3xi8>) -> tensor<2xi32>
  func.return %y : tensor<2xi32>
}

// -----

func.func @main(%a: tensor<2x3xi8>, %b: tensor<3x4xi8>) -> tensor<2x4xi16> {
  // CHECK: 'quant.matmul' op expects an i32 accumulator as result, got tensor<2x4xi16>
  %y = quant.matmul %a, %b : (tensor<2x3xi8>, tensor<3x4xi8>) -> tensor<2x4xi16>
  func.return %y : tensor<2x4xi16>
}

// -----

func.func @main(%a: tensor<2x3xi8>, %b: tensor<4x4xi8>) -> tensor<2x4xi32> {
  // CHECK: 'quant.matmul' op expects matching inner dimensions, got 3 and 4 for tensor<2x3xi8> and tensor<4x4xi8>
  %y = quant.matmul %a, %b : (tensor<2x3xi8>, tensor<4x4xi8>) -> tensor<2x4xi32>
  func.return %y : tensor<2x4xi32>
}

// -----

func.func @main(%a: tensor<2x3xi8>, %b: tensor<3x4xi8>, %z: tensor<3xi8>) -> tensor<2x4xi32> {
  // CHECK: 'quant.matmul' op expects rhs_zero_point of rank 0 or of shape [4] (one per column of rhs), got tensor<3xi8>
  %y = quant.matmul %a, %b rhs_zero_point(%z : tensor<3xi8>) : (tensor<2x3xi8>, tensor<3x4xi8>) -> tensor<2x4xi32>
  func.return %y : tensor<2x4xi32>
}

// -----

func.func @main(%a: tensor<2x3xui8>, %b: tensor<3x4xi8>, %z: tensor<i8>) -> tensor<2x4xi32> {
  // CHECK: 'quant.matmul' op expects lhs_zero_point of element type ui8 (the quantized type), got tensor<i8>
  %y = quant.matmul %a, %b lhs_zero_point(%z : tensor<i8>) : (tensor<2x3xui8>, tensor<3x4xi8>) -> tensor<2x4xi32>
  func.return %y : tensor<2x4xi32>
}

// -----

func.func @main(%a: tensor<5x2x3xi8>, %b: tensor<3x4xi8>) -> tensor<2x4xi32> {
  // CHECK: 'quant.matmul' op expects result shape [5, 2, 4], got tensor<2x4xi32>
  %y = quant.matmul %a, %b : (tensor<5x2x3xi8>, tensor<3x4xi8>) -> tensor<2x4xi32>
  func.return %y : tensor<2x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x3x3x3xi8>) -> tensor<1x2x4x4xf32> {
  // CHECK: 'quant.conv' op expects an i32 accumulator as result, got tensor<1x2x4x4xf32>
  %y = quant.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x3x3x3xi8>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x3x3xi8>) -> tensor<1x2x4x4xi32> {
  // CHECK: 'quant.conv' op expects weight of rank 4, got tensor<2x3x3xi8>
  %y = quant.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x3x3xi8>) -> tensor<1x2x4x4xi32>
  func.return %y : tensor<1x2x4x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x3x3x3xi8>) -> tensor<1x2x4x4xi32> {
  // CHECK: 'quant.conv' op expects 2 strides of at least 1 for input tensor<1x3x6x6xui8>, got [0, 1]
  %y = quant.conv %x, %w {strides = array<i64: 0, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x3x3x3xi8>) -> tensor<1x2x4x4xi32>
  func.return %y : tensor<1x2x4x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x2x3x3xi8>) -> tensor<1x2x4x4xi32> {
  // CHECK: 'quant.conv' op expects weight tensor<2x2x3x3xi8> to have 3/1 input channels per group, got 2
  %y = quant.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x2x3x3xi8>) -> tensor<1x2x4x4xi32>
  func.return %y : tensor<1x2x4x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x2x2xui8>, %w: tensor<2x3x3x3xi8>) -> tensor<1x2x1x1xi32> {
  // CHECK: 'quant.conv' op produces an empty output for input tensor<1x3x2x2xui8> and weight tensor<2x3x3x3xi8>
  %y = quant.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x2x2xui8>, tensor<2x3x3x3xi8>) -> tensor<1x2x1x1xi32>
  func.return %y : tensor<1x2x1x1xi32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x3x3x3xi8>, %z: tensor<3xui8>) -> tensor<1x2x4x4xi32> {
  // CHECK: 'quant.conv' op expects input_zero_point of rank 0 (per tensor), got tensor<3xui8>
  %y = quant.conv %x, %w input_zero_point(%z : tensor<3xui8>) {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x3x3x3xi8>) -> tensor<1x2x4x4xi32>
  func.return %y : tensor<1x2x4x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x3x3x3xi8>, %z: tensor<3xi8>) -> tensor<1x2x4x4xi32> {
  // CHECK: 'quant.conv' op expects weight_zero_point of rank 0 or of shape [2] (one per output channel), got tensor<3xi8>
  %y = quant.conv %x, %w weight_zero_point(%z : tensor<3xi8>) {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x3x3x3xi8>) -> tensor<1x2x4x4xi32>
  func.return %y : tensor<1x2x4x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x6x6xui8>, %w: tensor<2x3x3x3xi8>) -> tensor<1x2x6x6xi32> {
  // CHECK: 'quant.conv' op expects result shape [1, 2, 4, 4], got tensor<1x2x6x6xi32>
  %y = quant.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xui8>, tensor<2x3x3x3xi8>) -> tensor<1x2x6x6xi32>
  func.return %y : tensor<1x2x6x6xi32>
}
