// RUN: optc %s | optc | filecheck %s
// Round trip of the neural-network ops: the printed form parses back to itself.

func.func @conv(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>, %b: tensor<6xf32>, %wt: tensor<4x3x3x3xf32>) -> (tensor<1x6x4x4xf32>, tensor<1x6x6x6xf32>, tensor<1x6x16x16xf32>) {
  // CHECK-LABEL: func.func @conv
  // CHECK: %{{.*}} = graph.conv %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>, tensor<6xf32>) -> tensor<1x6x4x4xf32>
  %0 = graph.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>, tensor<6xf32>) -> tensor<1x6x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.conv %{{.*}}, %{{.*}} {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32>
  %1 = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32>
  // CHECK-NEXT: %{{.*}} = graph.conv_transpose %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64, output_padding = array<i64: 0, 0>} : (tensor<1x4x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x16x16xf32>
  %2 = graph.conv_transpose %x, %wt {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64, output_padding = array<i64: 0, 0>} : (tensor<1x4x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x16x16xf32>
  func.return %0, %1, %2 : tensor<1x6x4x4xf32>, tensor<1x6x6x6xf32>, tensor<1x6x16x16xf32>
}

func.func @pool(%x: tensor<1x3x7x7xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>, tensor<1x3x1x1xf32>) {
  // CHECK-LABEL: func.func @pool
  // CHECK: %{{.*}} = graph.max_pool %{{.*}} {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x3x7x7xf32> -> tensor<1x3x4x4xf32>
  %0 = graph.max_pool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x3x7x7xf32> -> tensor<1x3x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.average_pool %{{.*}} {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 1 : i64, count_include_pad = 0 : i64} : tensor<1x3x7x7xf32> -> tensor<1x3x4x4xf32>
  %1 = graph.average_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 1 : i64, count_include_pad = 0 : i64} : tensor<1x3x7x7xf32> -> tensor<1x3x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.global_average_pool %{{.*}} : tensor<1x3x7x7xf32> -> tensor<1x3x1x1xf32>
  %2 = graph.global_average_pool %x : tensor<1x3x7x7xf32> -> tensor<1x3x1x1xf32>
  // CHECK-NEXT: %{{.*}} = graph.global_max_pool %{{.*}} : tensor<1x3x7x7xf32> -> tensor<1x3x1x1xf32>
  %3 = graph.global_max_pool %x : tensor<1x3x7x7xf32> -> tensor<1x3x1x1xf32>
  func.return %0, %1, %2, %3 : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>, tensor<1x3x1x1xf32>
}

func.func @channels_last(%x: tensor<1x8x8x4xf32>, %w: tensor<6x3x3x2xf32>, %b: tensor<6xf32>, %c: tensor<4xf32>) -> (tensor<1x4x4x6xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x8x8x4xf32>, tensor<1x8x8x4xf32>) {
  // CHECK-LABEL: func.func @channels_last
  // CHECK: %{{.*}} = graph.conv %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64, layout = "NHWC"} : (tensor<1x8x8x4xf32>, tensor<6x3x3x2xf32>, tensor<6xf32>) -> tensor<1x4x4x6xf32>
  %0 = graph.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64, layout = "NHWC"} : (tensor<1x8x8x4xf32>, tensor<6x3x3x2xf32>, tensor<6xf32>) -> tensor<1x4x4x6xf32>
  // CHECK-NEXT: %{{.*}} = graph.max_pool %{{.*}} {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x4x4x4xf32>
  %1 = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x4x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.average_pool %{{.*}} {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, count_include_pad = 0 : i64, layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x4x4x4xf32>
  %2 = graph.average_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, count_include_pad = 0 : i64, layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x4x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.global_average_pool %{{.*}} {layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x1x1x4xf32>
  %3 = graph.global_average_pool %x {layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x1x1x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.global_max_pool %{{.*}} {layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x1x1x4xf32>
  %4 = graph.global_max_pool %x {layout = "NHWC"} : tensor<1x8x8x4xf32> -> tensor<1x1x1x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f32, layout = "NHWC"} : (tensor<1x8x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %5 = graph.batch_norm %x, %c, %c, %c, %c {epsilon = 1.000000e-05 : f32, layout = "NHWC"} : (tensor<1x8x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.instance_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f32, layout = "NHWC"} : (tensor<1x8x8x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %6 = graph.instance_norm %x, %c, %c {epsilon = 1.000000e-05 : f32, layout = "NHWC"} : (tensor<1x8x8x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  func.return %0, %1, %2, %3, %4, %5, %6 : tensor<1x4x4x6xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x8x8x4xf32>, tensor<1x8x8x4xf32>
}

func.func @norm(%x: tensor<2x3x4x5xf32>, %c: tensor<3xf32>, %s: tensor<4x5xf32>) -> (tensor<2x3x4x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4x5xf32>) {
  // CHECK-LABEL: func.func @norm
  // CHECK: %{{.*}} = graph.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x5xf32>
  %0 = graph.batch_norm %x, %c, %c, %c, %c {epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x5xf32>
  // CHECK-NEXT: %{{.*}} = graph.instance_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f32} : (tensor<2x3x4x5xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x5xf32>
  %1 = graph.instance_norm %x, %c, %c {epsilon = 1.000000e-03 : f32} : (tensor<2x3x4x5xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x5xf32>
  // CHECK-NEXT: %{{.*}} = graph.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf32>, tensor<4x5xf32>, tensor<4x5xf32>) -> tensor<2x3x4x5xf32>
  %2 = graph.layer_norm %x, %s, %s {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf32>, tensor<4x5xf32>, tensor<4x5xf32>) -> tensor<2x3x4x5xf32>
  // CHECK-NEXT: %{{.*}} = graph.layer_norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf32>, tensor<4x5xf32>) -> tensor<2x3x4x5xf32>
  %3 = graph.layer_norm %x, %s {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf32>, tensor<4x5xf32>) -> tensor<2x3x4x5xf32>
  func.return %0, %1, %2, %3 : tensor<2x3x4x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4x5xf32>
}

func.func @max_pool_indices(%x: tensor<1x3x7x7xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xi64>) {
  // CHECK-LABEL: func.func @max_pool_indices
  // CHECK: %{{.*}}, %{{.*}} = graph.max_pool %{{.*}} {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, storage_order = 1 : i64} : tensor<1x3x7x7xf32> -> tensor<1x3x4x4xf32>, tensor<1x3x4x4xi64>
  %y, %indices = graph.max_pool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, storage_order = 1 : i64} : tensor<1x3x7x7xf32> -> tensor<1x3x4x4xf32>, tensor<1x3x4x4xi64>
  func.return %y, %indices : tensor<1x3x4x4xf32>, tensor<1x3x4x4xi64>
}

func.func @layer_norm_statistics(%x: tensor<2x3x4x5xf16>, %s: tensor<4x5xf16>) -> (tensor<2x3x4x5xf16>, tensor<2x3x1x1xf32>, tensor<2x3x1x1xf32>) {
  // CHECK-LABEL: func.func @layer_norm_statistics
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = graph.layer_norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf16>, tensor<4x5xf16>) -> tensor<2x3x4x5xf16>, tensor<2x3x1x1xf32>, tensor<2x3x1x1xf32>
  %y, %mean, %inv_std_dev = graph.layer_norm %x, %s {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4x5xf16>, tensor<4x5xf16>) -> tensor<2x3x4x5xf16>, tensor<2x3x1x1xf32>, tensor<2x3x1x1xf32>
  func.return %y, %mean, %inv_std_dev : tensor<2x3x4x5xf16>, tensor<2x3x1x1xf32>, tensor<2x3x1x1xf32>
}

func.func @softmax(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  // CHECK-LABEL: func.func @softmax
  // CHECK: %{{.*}} = graph.softmax %{{.*}} {axis = 1 : i64} : tensor<2x3xf32>
  %0 = graph.softmax %x {axis = 1 : i64} : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.log_softmax %{{.*}} {axis = 0 : i64} : tensor<2x3xf32>
  %1 = graph.log_softmax %x {axis = 0 : i64} : tensor<2x3xf32>
  func.return %0, %1 : tensor<2x3xf32>, tensor<2x3xf32>
}

func.func @products(%a: tensor<4x3xf32>, %b: tensor<5x4xf32>, %c: tensor<5xf32>, %v: tensor<4xf32>, %m: tensor<2x1x3x4xf32>) -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3xf32>, tensor<2x5x3x4xf32>) {
  // CHECK-LABEL: func.func @products
  // CHECK: %{{.*}} = graph.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, beta = 1.000000e+00 : f32, trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<4x3xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  %0 = graph.gemm %a, %b, %c {alpha = 5.000000e-01 : f32, beta = 1.000000e+00 : f32, trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<4x3xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  // CHECK-NEXT: %{{.*}} = graph.gemm %{{.*}}, %{{.*}} {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<4x3xf32>, tensor<5x4xf32>) -> tensor<3x5xf32>
  %1 = graph.gemm %a, %b {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<4x3xf32>, tensor<5x4xf32>) -> tensor<3x5xf32>
  // CHECK-NEXT: %{{.*}} = graph.matmul %{{.*}}, %{{.*}} : (tensor<4xf32>, tensor<4x3xf32>) -> tensor<3xf32>
  %2 = graph.matmul %v, %a : (tensor<4xf32>, tensor<4x3xf32>) -> tensor<3xf32>
  // CHECK-NEXT: %{{.*}} = graph.weight "w" : tensor<5x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.matmul %{{.*}}, %{{.*}} : (tensor<2x1x3x4xf32>, tensor<5x4x4xf32>) -> tensor<2x5x3x4xf32>
  %w = graph.weight "w" : tensor<5x4x4xf32>
  %3 = graph.matmul %m, %w : (tensor<2x1x3x4xf32>, tensor<5x4x4xf32>) -> tensor<2x5x3x4xf32>
  func.return %0, %1, %2, %3 : tensor<3x5xf32>, tensor<3x5xf32>, tensor<3xf32>, tensor<2x5x3x4xf32>
}

func.func @matmul_bias(%m: tensor<2x3x4xf32>, %w: tensor<4x5xf32>, %bias: tensor<5xf32>) -> tensor<2x3x5xf32> {
  // CHECK-LABEL: func.func @matmul_bias
  // CHECK-NEXT: %{{.*}} = graph.matmul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3x4xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<2x3x5xf32>
  %0 = graph.matmul %m, %w, %bias : (tensor<2x3x4xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<2x3x5xf32>
  func.return %0 : tensor<2x3x5xf32>
}
