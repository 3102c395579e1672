// RUN: optc %s | optc | filecheck %s
// Round trip of the data-movement and shape ops: the printed form parses back to itself.

// CHECK-LABEL: func.func @movement
func.func @movement(%x: tensor<2x3xf32>, %y: tensor<2x5xf32>, %s: tensor<3x1xf32>) -> (tensor<6xf32>, tensor<3x2xf32>, tensor<2x3x4xf32>, tensor<4x3xf32>, tensor<2x8xf32>) {
  // CHECK: %{{.*}} = graph.reshape %{{.*}} : tensor<2x3xf32> -> tensor<6xf32>
  %r = graph.reshape %x : tensor<2x3xf32> -> tensor<6xf32>
  // CHECK-NEXT: %{{.*}} = graph.transpose %{{.*}} {perm = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  %t = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  // CHECK-NEXT: %{{.*}} = graph.expand %{{.*}} : tensor<3x1xf32> -> tensor<2x3x4xf32>
  %e = graph.expand %s : tensor<3x1xf32> -> tensor<2x3x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.tile %{{.*}} {repeats = array<i64: 2, 1>} : tensor<2x3xf32> -> tensor<4x3xf32>
  %tl = graph.tile %x {repeats = array<i64: 2, 1>} : tensor<2x3xf32> -> tensor<4x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.concat %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  %c = graph.concat %x, %y {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  func.return %r, %t, %e, %tl, %c : tensor<6xf32>, tensor<3x2xf32>, tensor<2x3x4xf32>, tensor<4x3xf32>, tensor<2x8xf32>
}

// CHECK-LABEL: func.func @cutting
func.func @cutting(%x: tensor<5x7xf32>) -> (tensor<5x3xf32>, tensor<5x4xf32>, tensor<3x2xf32>, tensor<6x10xf32>, tensor<7x7xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = graph.split %{{.*}} {axis = 1 : i64, split = array<i64: 3, 4>} : tensor<5x7xf32> -> tensor<5x3xf32>, tensor<5x4xf32>
  %a, %b = graph.split %x {axis = 1 : i64, split = array<i64: 3, 4>} : tensor<5x7xf32> -> tensor<5x3xf32>, tensor<5x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.slice %{{.*}} {starts = array<i64: 4, 1>, steps = array<i64: -2, 3>} : tensor<5x7xf32> -> tensor<3x2xf32>
  %s = graph.slice %x {starts = array<i64: 4, 1>, steps = array<i64: -2, 3>} : tensor<5x7xf32> -> tensor<3x2xf32>
  // CHECK-NEXT: %{{.*}} = graph.pad %{{.*}} {pads = array<i64: 1, 2, 0, 1>, mode = "constant", value = 1.500000e+00 : f64} : tensor<5x7xf32> -> tensor<6x10xf32>
  %p = graph.pad %x {pads = array<i64: 1, 2, 0, 1>, mode = "constant", value = 1.5 : f64} : tensor<5x7xf32> -> tensor<6x10xf32>
  // CHECK-NEXT: %{{.*}} = graph.pad %{{.*}} {pads = array<i64: 1, 0, 1, 0>, mode = "reflect", value = 0.000000e+00 : f64} : tensor<5x7xf32> -> tensor<7x7xf32>
  %q = graph.pad %x {pads = array<i64: 1, 0, 1, 0>, mode = "reflect", value = 0.0 : f64} : tensor<5x7xf32> -> tensor<7x7xf32>
  func.return %a, %b, %s, %p, %q : tensor<5x3xf32>, tensor<5x4xf32>, tensor<3x2xf32>, tensor<6x10xf32>, tensor<7x7xf32>
}

// CHECK-LABEL: func.func @indexing
func.func @indexing(%x: tensor<5x7xf32>, %i: tensor<2x3xi64>, %j: tensor<i32>, %k: tensor<5x2xi64>) -> (tensor<5x2x3xf32>, tensor<7xf32>, tensor<5x2xf32>) {
  // CHECK: %{{.*}} = graph.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<5x7xf32>, tensor<2x3xi64>) -> tensor<5x2x3xf32>
  %g = graph.gather %x, %i {axis = 1 : i64} : (tensor<5x7xf32>, tensor<2x3xi64>) -> tensor<5x2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.gather %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<5x7xf32>, tensor<i32>) -> tensor<7xf32>
  %h = graph.gather %x, %j {axis = 0 : i64} : (tensor<5x7xf32>, tensor<i32>) -> tensor<7xf32>
  // CHECK-NEXT: %{{.*}} = graph.gather_elements %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<5x7xf32>, tensor<5x2xi64>) -> tensor<5x2xf32>
  %ge = graph.gather_elements %x, %k {axis = 1 : i64} : (tensor<5x7xf32>, tensor<5x2xi64>) -> tensor<5x2xf32>
  func.return %g, %h, %ge : tensor<5x2x3xf32>, tensor<7xf32>, tensor<5x2xf32>
}

// CHECK-LABEL: func.func @resampling
func.func @resampling(%x: tensor<1x3x4x5xf32>) -> (tensor<1x3x8x10xf32>, tensor<1x3x2x7xf32>, tensor<1x3x2x7xf32>, tensor<1x3x3x3xf32>) {
  // CHECK: %{{.*}} = graph.resize %{{.*}} {scales = array<f32: 1.000000e+00, 1.000000e+00, 2.000000e+00, 2.000000e+00>, mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor", cubic_coeff_a = -7.500000e-01 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.000000e+00 : f32} : tensor<1x3x4x5xf32> -> tensor<1x3x8x10xf32>
  %n = graph.resize %x {scales = array<f32: 1.0, 1.0, 2.0, 2.0>, mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor", cubic_coeff_a = -7.500000e-01 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.000000e+00 : f32} : tensor<1x3x4x5xf32> -> tensor<1x3x8x10xf32>
  // CHECK-NEXT: %{{.*}} = graph.resize %{{.*}} {scales = array<f32: 1.000000e+00, 1.000000e+00, 5.000000e-01, 1.400000e+00>, mode = "linear", coordinate_transformation_mode = "half_pixel", nearest_mode = "round_prefer_floor", cubic_coeff_a = -7.500000e-01 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.000000e+00 : f32} : tensor<1x3x4x5xf32> -> tensor<1x3x2x7xf32>
  %l = graph.resize %x {scales = array<f32: 1.0, 1.0, 0.5, 1.4>, mode = "linear", coordinate_transformation_mode = "half_pixel", nearest_mode = "round_prefer_floor", cubic_coeff_a = -7.500000e-01 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.000000e+00 : f32} : tensor<1x3x4x5xf32> -> tensor<1x3x2x7xf32>
  // CHECK-NEXT: %{{.*}} = graph.resize %{{.*}} {scales = array<f32: 1.000000e+00, 1.000000e+00, 5.000000e-01, 1.400000e+00>, mode = "cubic", coordinate_transformation_mode = "half_pixel", nearest_mode = "round_prefer_floor", cubic_coeff_a = -5.000000e-01 : f32, exclude_outside = 1 : i64, antialias = 1 : i64, extrapolation_value = 0.000000e+00 : f32} : tensor<1x3x4x5xf32> -> tensor<1x3x2x7xf32>
  %c = graph.resize %x {scales = array<f32: 1.0, 1.0, 0.5, 1.4>, mode = "cubic", coordinate_transformation_mode = "half_pixel", nearest_mode = "round_prefer_floor", cubic_coeff_a = -0.5 : f32, exclude_outside = 1 : i64, antialias = 1 : i64, extrapolation_value = 0.0 : f32} : tensor<1x3x4x5xf32> -> tensor<1x3x2x7xf32>
  // CHECK-NEXT: %{{.*}} = graph.resize %{{.*}} {scales = array<f32: 1.000000e+00, 1.000000e+00, 7.500000e-01, 6.000000e-01>, mode = "linear", coordinate_transformation_mode = "tf_crop_and_resize", nearest_mode = "round_prefer_floor", cubic_coeff_a = -7.500000e-01 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 1.000000e+01 : f32, roi = array<f32: 0.000000e+00, 0.000000e+00, 4.000000e-01, -2.000000e-01, 1.000000e+00, 1.000000e+00, 6.000000e-01, 1.200000e+00>} : tensor<1x3x4x5xf32> -> tensor<1x3x3x3xf32>
  %r = graph.resize %x {scales = array<f32: 1.0, 1.0, 0.75, 0.6>, mode = "linear", coordinate_transformation_mode = "tf_crop_and_resize", nearest_mode = "round_prefer_floor", cubic_coeff_a = -0.75 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 10.0 : f32, roi = array<f32: 0.0, 0.0, 0.4, -0.2, 1.0, 1.0, 0.6, 1.2>} : tensor<1x3x4x5xf32> -> tensor<1x3x3x3xf32>
  func.return %n, %l, %c, %r : tensor<1x3x8x10xf32>, tensor<1x3x2x7xf32>, tensor<1x3x2x7xf32>, tensor<1x3x3x3xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<2x3x4xf32>) -> (tensor<2x1x1xf32>, tensor<3xf32>, tensor<2x3x1xf32>, tensor<2x3xf32>, tensor<f32>, tensor<2x1x4xf32>, tensor<2x3x4xf32>, tensor<2x4xi64>, tensor<2x1x4xi64>) {
  // CHECK: %{{.*}} = graph.reduce_mean %{{.*}} {axes = array<i64: 1, 2>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x1x1xf32>
  %mean = graph.reduce_mean %x {axes = array<i64: 1, 2>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x1x1xf32>
  // CHECK-NEXT: %{{.*}} = graph.reduce_sum %{{.*}} {axes = array<i64: 0, 2>, keepdims = 0 : i64} : tensor<2x3x4xf32> -> tensor<3xf32>
  %sum = graph.reduce_sum %x {axes = array<i64: 0, 2>, keepdims = 0 : i64} : tensor<2x3x4xf32> -> tensor<3xf32>
  // CHECK-NEXT: %{{.*}} = graph.reduce_max %{{.*}} {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x3x1xf32>
  %max = graph.reduce_max %x {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x3x1xf32>
  // CHECK-NEXT: %{{.*}} = graph.reduce_min %{{.*}} {axes = array<i64: 2>, keepdims = 0 : i64} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  %min = graph.reduce_min %x {axes = array<i64: 2>, keepdims = 0 : i64} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.reduce_prod %{{.*}} {axes = array<i64: 0, 1, 2>, keepdims = 0 : i64} : tensor<2x3x4xf32> -> tensor<f32>
  %prod = graph.reduce_prod %x {axes = array<i64: 0, 1, 2>, keepdims = 0 : i64} : tensor<2x3x4xf32> -> tensor<f32>
  // CHECK-NEXT: %{{.*}} = graph.reduce_l2 %{{.*}} {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %l2 = graph.reduce_l2 %x {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.reduce_sum_square %{{.*}} {axes = array<i64>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %ss = graph.reduce_sum_square %x {axes = array<i64>, keepdims = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.arg_max %{{.*}} {axis = 1 : i64, keepdims = 0 : i64, select_last_index = 0 : i64} : tensor<2x3x4xf32> -> tensor<2x4xi64>
  %amax = graph.arg_max %x {axis = 1 : i64, keepdims = 0 : i64, select_last_index = 0 : i64} : tensor<2x3x4xf32> -> tensor<2x4xi64>
  // CHECK-NEXT: %{{.*}} = graph.arg_min %{{.*}} {axis = 1 : i64, keepdims = 1 : i64, select_last_index = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x1x4xi64>
  %amin = graph.arg_min %x {axis = 1 : i64, keepdims = 1 : i64, select_last_index = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x1x4xi64>
  func.return %mean, %sum, %max, %min, %prod, %l2, %ss, %amax, %amin : tensor<2x1x1xf32>, tensor<3xf32>, tensor<2x3x1xf32>, tensor<2x3xf32>, tensor<f32>, tensor<2x1x4xf32>, tensor<2x3x4xf32>, tensor<2x4xi64>, tensor<2x1x4xi64>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<2x3x4xf32>, %a: tensor<i64>, %b: tensor<i64>, %d: tensor<i64>) -> (tensor<2xi64>, tensor<i64>, tensor<5xi64>, tensor<2x3xf32>, tensor<4xi1>) {
  // CHECK: %{{.*}} = graph.shape %{{.*}} {start = 1 : i64, end = 3 : i64} : tensor<2x3x4xf32> -> tensor<2xi64>
  %s = graph.shape %x {start = 1 : i64, end = 3 : i64} : tensor<2x3x4xf32> -> tensor<2xi64>
  // CHECK-NEXT: %{{.*}} = graph.size %{{.*}} : tensor<2x3x4xf32> -> tensor<i64>
  %n = graph.size %x : tensor<2x3x4xf32> -> tensor<i64>
  // CHECK-NEXT: %{{.*}} = graph.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<5xi64>
  %r = graph.range %a, %b, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<5xi64>
  // CHECK-NEXT: %{{.*}} = graph.constant_of_shape {value = 2.500000e+00 : f32} : tensor<2x3xf32>
  %c = graph.constant_of_shape {value = 2.5 : f32} : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.constant_of_shape {value = true} : tensor<4xi1>
  %t = graph.constant_of_shape {value = true} : tensor<4xi1>
  func.return %s, %n, %r, %c, %t : tensor<2xi64>, tensor<i64>, tensor<5xi64>, tensor<2x3xf32>, tensor<4xi1>
}

// CHECK-LABEL: func.func @relabelling
func.func @relabelling(%x: tensor<2x1x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<1x2x1x3x1xf32>) {
  // CHECK: %{{.*}} = graph.flatten %{{.*}} {axis = 1 : i64} : tensor<2x1x3xf32> -> tensor<2x3xf32>
  %f = graph.flatten %x {axis = 1 : i64} : tensor<2x1x3xf32> -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.squeeze %{{.*}} {axes = array<i64: 1>} : tensor<2x1x3xf32> -> tensor<2x3xf32>
  %s = graph.squeeze %x {axes = array<i64: 1>} : tensor<2x1x3xf32> -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.unsqueeze %{{.*}} {axes = array<i64: 0, 4>} : tensor<2x1x3xf32> -> tensor<1x2x1x3x1xf32>
  %u = graph.unsqueeze %x {axes = array<i64: 0, 4>} : tensor<2x1x3xf32> -> tensor<1x2x1x3x1xf32>
  func.return %f, %s, %u : tensor<2x3xf32>, tensor<2x3xf32>, tensor<1x2x1x3x1xf32>
}
