// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Verifier messages of the data-movement and shape ops: one case per rule.
func.func @main(%x: tensor<2x3xf32>) -> tensor<5xf32> {
  // CHECK: 'graph.reshape' op cannot reshape tensor<2x3xf32> to tensor<5xf32>: element counts or types differ
  %y = graph.reshape %x : tensor<2x3xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.expand' op cannot broadcast shapes 2x3 and 4
  %y = graph.expand %x : tensor<2x3xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<1x3xf32> {
  // CHECK: 'graph.expand' op cannot broadcast tensor<2x3xf32> to tensor<1x3xf32>
  %y = graph.expand %x : tensor<2x3xf32> -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<4x3xf32> {
  // CHECK: 'graph.tile' op expects 2 non-negative repeats for tensor<2x3xf32>, got [2]
  %y = graph.tile %x {repeats = array<i64: 2>} : tensor<2x3xf32> -> tensor<4x3xf32>
  func.return %y : tensor<4x3xf32>
}

// -----

func.func @main() -> tensor<2xf32> {
  // CHECK: 'graph.concat' op expects at least one input
  %y = graph.concat {axis = 0 : i64} : () -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<2xf32>, %z: tensor<2xi64>) -> tensor<4xf32> {
  // CHECK: 'graph.concat' op expects operands of one element type, got tensor<2xf32>, tensor<2xi64>
  %y = graph.concat %x, %z {axis = 0 : i64} : (tensor<2xf32>, tensor<2xi64>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.concat' op expects axis in [0, 2), got 2
  %y = graph.concat %x, %x {axis = 2 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %z: tensor<2x4xf32>) -> tensor<4x3xf32> {
  // CHECK: 'graph.concat' op expects inputs to agree on all dimensions but 0, got tensor<2x3xf32> and tensor<2x4xf32>
  %y = graph.concat %x, %z {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  func.return %y : tensor<4x3xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<5x3xf32> {
  // CHECK: 'graph.concat' op expects result type tensor<4x3xf32>, got tensor<5x3xf32>
  %y = graph.concat %x, %x {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  func.return %y : tensor<5x3xf32>
}

// -----

func.func @main(%x: tensor<5xf32>) -> tensor<2xf32> {
  // CHECK: 'graph.split' op expects split sizes summing to dimension 0 of tensor<5xf32>, got [2, 2]
  %y, %z = graph.split %x {axis = 0 : i64, split = array<i64: 2, 2>} : tensor<5xf32> -> tensor<2xf32>, tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<5x7xf32>) -> tensor<3xf32> {
  // CHECK: 'graph.slice' op expects a result of the input's rank and element type, got tensor<5x7xf32> -> tensor<3xf32>
  %y = graph.slice %x {starts = array<i64: 0, 0>, steps = array<i64: 1, 1>} : tensor<5x7xf32> -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// -----

func.func @main(%x: tensor<5x7xf32>) -> tensor<3x7xf32> {
  // CHECK: 'graph.slice' op expects one start and one step per dimension of tensor<5x7xf32>
  %y = graph.slice %x {starts = array<i64: 0>, steps = array<i64: 1>} : tensor<5x7xf32> -> tensor<3x7xf32>
  func.return %y : tensor<3x7xf32>
}

// -----

func.func @main(%x: tensor<5x7xf32>) -> tensor<2x7xf32> {
  // CHECK: 'graph.slice' op reads outside dimension 0 of tensor<5x7xf32>: start 3, step 2, size 2
  %y = graph.slice %x {starts = array<i64: 3, 0>, steps = array<i64: 2, 1>} : tensor<5x7xf32> -> tensor<2x7xf32>
  func.return %y : tensor<2x7xf32>
}

// -----

func.func @main(%x: tensor<5xf32>) -> tensor<7xf32> {
  // CHECK: 'graph.pad' op expects mode to be one of constant, reflect, edge, wrap, got 'mirror'
  %y = graph.pad %x {pads = array<i64: 1, 1>, mode = "mirror", value = 0.0 : f64} : tensor<5xf32> -> tensor<7xf32>
  func.return %y : tensor<7xf32>
}

// -----

func.func @main(%x: tensor<5xf32>) -> tensor<7xf32> {
  // CHECK: 'graph.pad' op expects 2 pads for tensor<5xf32>, got 1
  %y = graph.pad %x {pads = array<i64: 1>, mode = "constant", value = 0.0 : f64} : tensor<5xf32> -> tensor<7xf32>
  func.return %y : tensor<7xf32>
}

// -----

func.func @main(%x: tensor<5xf32>) -> tensor<1xf32> {
  // CHECK: 'graph.pad' op crops tensor<5xf32> below zero size with pads [-3, -3]
  %y = graph.pad %x {pads = array<i64: -3, -3>, mode = "constant", value = 0.0 : f64} : tensor<5xf32> -> tensor<1xf32>
  func.return %y : tensor<1xf32>
}

// -----

func.func @main(%x: tensor<5xf32>) -> tensor<10xf32> {
  // CHECK: 'graph.pad' op expects reflect pads smaller than each dimension of tensor<5xf32>, got [5, 0]
  %y = graph.pad %x {pads = array<i64: 5, 0>, mode = "reflect", value = 0.0 : f64} : tensor<5xf32> -> tensor<10xf32>
  func.return %y : tensor<10xf32>
}

// -----

func.func @main(%x: tensor<0x2xf32>) -> tensor<1x2xf32> {
  // CHECK: 'graph.pad' op cannot edge-pad an empty dimension of tensor<0x2xf32>
  %y = graph.pad %x {pads = array<i64: 1, 0, 0, 0>, mode = "edge", value = 0.0 : f64} : tensor<0x2xf32> -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// -----

func.func @main(%x: tensor<5xf32>, %i: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: 'graph.gather' op expects indices of type i32 or i64, got tensor<2xf32>
  %y = graph.gather %x, %i {axis = 0 : i64} : (tensor<5xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<5x3xf32>, %i: tensor<2xi64>) -> tensor<2xf32> {
  // CHECK: 'graph.gather_elements' op expects indices of rank 2, got tensor<2xi64>
  %y = graph.gather_elements %x, %i {axis = 0 : i64} : (tensor<5x3xf32>, tensor<2xi64>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects mode to be one of nearest, linear, cubic, got 'bicubic'
  %y = graph.resize %x {scales = array<f32: 2.0>, mode = "bicubic", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects 1 positive scales for tensor<4xf32>, got [2.0, 2.0]
  %y = graph.resize %x {scales = array<f32: 2.0, 2.0>, mode = "nearest", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects exclude_outside to be 0 or 1, got 2
  %y = graph.resize %x {scales = array<f32: 2.0>, mode = "cubic", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 2 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects antialias only with mode linear or cubic
  %y = graph.resize %x {scales = array<f32: 2.0>, mode = "nearest", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 1 : i64, extrapolation_value = 0.0 : f32} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects roi exactly when coordinate_transformation_mode is tf_crop_and_resize
  %y = graph.resize %x {scales = array<f32: 2.0>, mode = "linear", coordinate_transformation_mode = "tf_crop_and_resize", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects roi exactly when coordinate_transformation_mode is tf_crop_and_resize
  %y = graph.resize %x {scales = array<f32: 2.0>, mode = "linear", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32, roi = array<f32: 0.0, 1.0>} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: 'graph.resize' op expects roi of 2 values (starts, then ends) for rank 1, got 4
  %y = graph.resize %x {scales = array<f32: 2.0>, mode = "linear", coordinate_transformation_mode = "tf_crop_and_resize", nearest_mode = "floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32, roi = array<f32: 0.0, 0.0, 1.0, 1.0>} : tensor<4xf32> -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<f32> {
  // CHECK: 'graph.reduce_sum' op expects sorted, distinct axes in [0, 2), got [1, 0]
  %y = graph.reduce_sum %x {axes = array<i64: 1, 0>, keepdims = 0 : i64} : tensor<2x3xf32> -> tensor<f32>
  func.return %y : tensor<f32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // CHECK: 'graph.reduce_mean' op expects result type tensor<2x1xf32>, got tensor<2xf32>
  %y = graph.reduce_mean %x {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<2x3xf32> -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<0xi64> {
  // CHECK: 'graph.shape' op expects 0 <= start <= end <= 2, got start 2, end 1
  %y = graph.shape %x {start = 2 : i64, end = 1 : i64} : tensor<2x3xf32> -> tensor<0xi64>
  func.return %y : tensor<0xi64>
}

// -----

func.func @main(%a: tensor<1xi64>, %b: tensor<i64>) -> tensor<3xi64> {
  // CHECK: 'graph.range' op expects 0-d start, limit and delta, got tensor<1xi64>, tensor<i64>, tensor<i64>
  %y = graph.range %a, %b, %b : (tensor<1xi64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  func.return %y : tensor<3xi64>
}

// -----

func.func @main(%a: tensor<i64>, %b: tensor<f32>) -> tensor<3xi64> {
  // CHECK: 'graph.range' op expects operands of one element type, got tensor<i64>, tensor<f32>, tensor<i64>
  %y = graph.range %a, %b, %a : (tensor<i64>, tensor<f32>, tensor<i64>) -> tensor<3xi64>
  func.return %y : tensor<3xi64>
}

// -----

func.func @main(%a: tensor<i64>) -> tensor<3xf32> {
  // CHECK: 'graph.range' op expects a 1-d result of i64, got tensor<3xf32>
  %y = graph.range %a, %a, %a : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// -----

func.func @main() -> tensor<2xf32> {
  // CHECK: 'graph.constant_of_shape' op expects value of type f32, got i64
  %y = graph.constant_of_shape {value = 1 : i64} : tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<6xf32> {
  // CHECK: 'graph.flatten' op expects axis in [0, 2], got 3
  %y = graph.flatten %x {axis = 3 : i64} : tensor<2x3xf32> -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<3xf32> {
  // CHECK: 'graph.squeeze' op cannot squeeze axes [0] of tensor<2x3xf32>: their size is not 1
  %y = graph.squeeze %x {axes = array<i64: 0>} : tensor<2x3xf32> -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<1x2x3xf32> {
  // CHECK: 'graph.unsqueeze' op expects sorted, distinct axes in [0, 4), got [2, 0]
  %y = graph.unsqueeze %x {axes = array<i64: 2, 0>} : tensor<2x3xf32> -> tensor<1x2x3xf32>
  func.return %y : tensor<1x2x3xf32>
}
