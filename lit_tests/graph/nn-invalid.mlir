// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Verifier messages of the neural-network ops: one case per rule (graph.conv's
// channels-per-group rule is in invalid.mlir).

func.func @main(%x: tensor<3x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects input of rank 3 or 4 or 5, got tensor<3x8xf32>
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<3x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects weight of rank 4, got tensor<4x3x3xf32>
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf16>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects operands of one element type, got tensor<1x3x8x8xf32>, tensor<4x3x3x3xf16>
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf16>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects group to be at least 1, got 0
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 0 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects 2 strides for input tensor<1x3x8x8xf32>, got 1
  %y = graph.conv %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects 4 pads for input tensor<1x3x8x8xf32>, got 2
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects dilations to be at least 1, got [0, 1]
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 0, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects pads to be at least 0, got [0, -1, 0, 0]
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, -1, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects bias of shape 4, got tensor<3xf32>
  %y = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<1x3x2x2xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32> {
  // CHECK: 'graph.conv' op produces an empty output for input tensor<1x3x2x2xf32> and weight tensor<4x3x3x3xf32>
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x2x2xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32>
  func.return %y : tensor<1x4x1x1xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x3x10x10xf32> {
  // CHECK: 'graph.conv_transpose' op expects weight tensor<4x3x3x3xf32> to have 3 input channels in 1 group(s), got 4
  %y = graph.conv_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, output_padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x10x10xf32>
  func.return %y : tensor<1x3x10x10xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<3x2x3x3xf32>) -> tensor<1x2x10x10xf32> {
  // CHECK: 'graph.conv_transpose' op expects output_padding to be at least 0, got [-1, 0]
  %y = graph.conv_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, output_padding = array<i64: -1, 0>} : (tensor<1x3x8x8xf32>, tensor<3x2x3x3xf32>) -> tensor<1x2x10x10xf32>
  func.return %y : tensor<1x2x10x10xf32>
}

// -----

func.func @main(%x: tensor<1x3x1x1xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x2x1x1xf32> {
  // CHECK: 'graph.conv_transpose' op produces an empty output for input tensor<1x3x1x1xf32> and weight tensor<3x2x1x1xf32>
  %y = graph.conv_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, output_padding = array<i64: 0, 0>} : (tensor<1x3x1x1xf32>, tensor<3x2x1x1xf32>) -> tensor<1x2x1x1xf32>
  func.return %y : tensor<1x2x1x1xf32>
}

// -----

func.func @main(%x: tensor<1x3x5x5xf32>) -> tensor<1x3x4x4xf32> {
  // ceil_mode keeps a partial last window only if it starts inside the input or its begin pad.
  // CHECK: 'graph.max_pool' op expects result type tensor<1x3x3x3xf32>, got tensor<1x3x4x4xf32>
  %y = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 1 : i64} : tensor<1x3x5x5xf32> -> tensor<1x3x4x4xf32>
  func.return %y : tensor<1x3x4x4xf32>
}

// -----

func.func @main(%x: tensor<1x3x5x5xf32>) -> tensor<1x3x4x4xf32> {
  // CHECK: 'graph.max_pool' op expects 2 kernel_shape for input tensor<1x3x5x5xf32>, got 3
  %y = graph.max_pool %x {kernel_shape = array<i64: 2, 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x3x5x5xf32> -> tensor<1x3x4x4xf32>
  func.return %y : tensor<1x3x4x4xf32>
}

// -----

func.func @main(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x2x2xf32> {
  // CHECK: 'graph.max_pool' op expects result type tensor<1x3x2x2xf32>, tensor<1x3x2x2xi64>, got tensor<1x3x2x2xf32>, tensor<1x3x2x2xi32>
  %y, %i = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, storage_order = 0 : i64} : tensor<1x3x4x4xf32> -> tensor<1x3x2x2xf32>, tensor<1x3x2x2xi32>
  func.return %y : tensor<1x3x2x2xf32>
}

// -----

func.func @main(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x2x2xf32> {
  // CHECK: 'graph.max_pool' op expects storage_order exactly when it has the indices result
  %y = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, storage_order = 1 : i64} : tensor<1x3x4x4xf32> -> tensor<1x3x2x2xf32>
  func.return %y : tensor<1x3x2x2xf32>
}

// -----

func.func @main(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x2x2xi64> {
  // CHECK: 'graph.max_pool' op expects storage_order 0 (row major) or 1 (column major), got 2
  %y, %i = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, storage_order = 2 : i64} : tensor<1x3x4x4xf32> -> tensor<1x3x2x2xf32>, tensor<1x3x2x2xi64>
  func.return %i : tensor<1x3x2x2xi64>
}

// -----

func.func @main(%x: tensor<1x4x4x3xf32>) -> tensor<1x2x2x3xi64> {
  // CHECK: 'graph.max_pool' op has no channels-last form with the indices result (its indices are channels-first positions)
  %y, %i = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, storage_order = 0 : i64, layout = "NHWC"} : tensor<1x4x4x3xf32> -> tensor<1x2x2x3xf32>, tensor<1x2x2x3xi64>
  func.return %i : tensor<1x2x2x3xi64>
}

// -----

func.func @main(%x: tensor<1x3x5x5xi32>) -> tensor<1x3x4x4xi32> {
  // CHECK: 'graph.average_pool' op expects a floating-point input, got tensor<1x3x5x5xi32>
  %y = graph.average_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, count_include_pad = 0 : i64} : tensor<1x3x5x5xi32> -> tensor<1x3x4x4xi32>
  func.return %y : tensor<1x3x4x4xi32>
}

// -----

func.func @main(%x: tensor<1x3x1x1xf32>) -> tensor<1x3x1x1xf32> {
  // CHECK: 'graph.average_pool' op produces an empty output for input tensor<1x3x1x1xf32>
  %y = graph.average_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, count_include_pad = 0 : i64} : tensor<1x3x1x1xf32> -> tensor<1x3x1x1xf32>
  func.return %y : tensor<1x3x1x1xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.global_average_pool' op expects input of rank at least 3 (N, C, spatial...), got tensor<2x3xf32>
  %y = graph.global_average_pool %x : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK: 'graph.conv' op expects layout to be one of NCHW, NHWC, got 'NWHC'
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NWHC"} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32>
  func.return %y : tensor<1x6x6x4xf32>
}

// -----

// An NHWC conv's weight is (M, kh, kw, C/group): an OIHW weight has the wrong channels.
func.func @main(%x: tensor<1x8x8x2xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK: 'graph.conv' op expects weight tensor<4x3x2x3xf32> to have 2/1 input channels per group, got 3 (layout NHWC, shapes shown channels first)
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x8x8x2xf32>, tensor<4x2x3x3xf32>) -> tensor<1x6x6x4xf32>
  func.return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %c: tensor<3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.batch_norm' op expects an NHWC input of rank at least 3 (N, spatial..., C), got tensor<2x3xf32>
  %y = graph.batch_norm %x, %c, %c, %c, %c {epsilon = 1.000000e-05 : f32, layout = "NHWC"} : (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<1x5x5x3xf32>) -> tensor<1x3x1x1xf32> {
  // CHECK: 'graph.global_max_pool' op expects result type tensor<1x1x1x3xf32>, got tensor<1x3x1x1xf32>
  %y = graph.global_max_pool %x {layout = "NHWC"} : tensor<1x5x5x3xf32> -> tensor<1x3x1x1xf32>
  func.return %y : tensor<1x3x1x1xf32>
}

// -----

func.func @main(%x: tensor<3xf32>, %c: tensor<3xf32>) -> tensor<3xf32> {
  // CHECK: 'graph.batch_norm' op expects input of rank at least 2 (N, C, ...), got tensor<3xf32>
  %y = graph.batch_norm %x, %c, %c, %c, %c {epsilon = 1.000000e-05 : f32} : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %c: tensor<3xf32>, %m: tensor<4xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.batch_norm' op expects mean of shape 3, got tensor<4xf32>
  %y = graph.batch_norm %x, %c, %c, %m, %c {epsilon = 1.000000e-05 : f32} : (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %c: tensor<3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.instance_norm' op expects input of rank at least 3 (N, C, spatial...), got tensor<2x3xf32>
  %y = graph.instance_norm %x, %c, %c {epsilon = 1.000000e-05 : f32} : (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<2x3x4xf32>, %s: tensor<4xf32>) -> tensor<2x3x4xf32> {
  // CHECK: 'graph.layer_norm' op axis 3 is out of range for rank 3
  %y = graph.layer_norm %x, %s {axis = 3 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  func.return %y : tensor<2x3x4xf32>
}

// -----

func.func @main(%x: tensor<2x3x4xf32>, %s: tensor<3x4xf32>) -> tensor<2x3x4xf32> {
  // CHECK: 'graph.layer_norm' op expects scale to broadcast to the normalized shape 4, got tensor<3x4xf32>
  %y = graph.layer_norm %x, %s {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
  func.return %y : tensor<2x3x4xf32>
}

// -----

func.func @main(%x: tensor<2x3x4xf32>, %s: tensor<4xf32>, %b: tensor<3xf32>) -> tensor<2x3x4xf32> {
  // CHECK: 'graph.layer_norm' op cannot broadcast shapes 4 and 3
  %y = graph.layer_norm %x, %s, %b {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<2x3x4xf32>
  func.return %y : tensor<2x3x4xf32>
}

// -----

func.func @main(%x: tensor<2x3x4xf16>, %s: tensor<4xf16>) -> tensor<2x3x4xf16> {
  // CHECK: 'graph.layer_norm' op expects result type tensor<2x3x4xf16>, tensor<2x1x1xf32>, tensor<2x1x1xf32>, got tensor<2x3x4xf16>, tensor<2x1x1xf16>, tensor<2x1x1xf16>
  %y, %mean, %inv = graph.layer_norm %x, %s {axis = 1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4xf16>, tensor<4xf16>) -> tensor<2x3x4xf16>, tensor<2x1x1xf16>, tensor<2x1x1xf16>
  func.return %y : tensor<2x3x4xf16>
}

// -----

// The custom syntax writes both statistics or neither; the generic form can ask for one.
func.func @main(%x: tensor<2x3x4xf32>, %s: tensor<4xf32>) -> tensor<2x3x4xf32> {
  // CHECK: 'graph.layer_norm' op expects both mean and inv_std_dev results or neither
  %y:2 = "graph.layer_norm"(%x, %s) <{axis = 2 : i64, epsilon = 1.0e-05 : f32, operandSegmentSizes = array<i32: 1, 1, 0>, resultSegmentSizes = array<i32: 1, 1, 0>}> : (tensor<2x3x4xf32>, tensor<4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x1xf32>)
  func.return %y#0 : tensor<2x3x4xf32>
}

// -----

func.func @main(%x: tensor<2x3xi32>) -> tensor<2x3xi32> {
  // CHECK: 'graph.softmax' op expects a floating-point input, got tensor<2x3xi32>
  %y = graph.softmax %x {axis = 1 : i64} : tensor<2x3xi32>
  func.return %y : tensor<2x3xi32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.log_softmax' op axis -3 is out of range for rank 2
  %y = graph.log_softmax %x {axis = -3 : i64} : tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

func.func @main(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<3x5xf32> {
  // CHECK: 'graph.gemm' op expects a of rank 2, got tensor<2x3x4xf32>
  %y = graph.gemm %a, %b {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  func.return %y : tensor<3x5xf32>
}

// -----

func.func @main(%a: tensor<3x4xf32>, %b: tensor<5x4xf32>) -> tensor<3x4xf32> {
  // CHECK: 'graph.gemm' op expects matching inner dimensions, got 4 and 5 for tensor<3x4xf32> and tensor<5x4xf32>
  %y = graph.gemm %a, %b {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<5x4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

func.func @main(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>, %c: tensor<2x3x5xf32>) -> tensor<3x5xf32> {
  // CHECK: 'graph.gemm' op expects c to broadcast to 3x5, got tensor<2x3x5xf32>
  %y = graph.gemm %a, %b, %c {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x5xf32>, tensor<2x3x5xf32>) -> tensor<3x5xf32>
  func.return %y : tensor<3x5xf32>
}

// -----

func.func @main(%a: tensor<f32>, %b: tensor<4xf32>) -> tensor<f32> {
  // CHECK: 'graph.matmul' op expects operands of rank at least 1, got tensor<f32> and tensor<4xf32>
  %y = graph.matmul %a, %b : (tensor<f32>, tensor<4xf32>) -> tensor<f32>
  func.return %y : tensor<f32>
}

// -----

func.func @main(%a: tensor<2x4xf32>, %b: tensor<3xf32>) -> tensor<2xf32> {
  // CHECK: 'graph.matmul' op expects matching inner dimensions, got 4 and 3 for tensor<2x4xf32> and tensor<3xf32>
  %y = graph.matmul %a, %b : (tensor<2x4xf32>, tensor<3xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%a: tensor<2x3x4xf32>, %b: tensor<3x4x5xf32>) -> tensor<2x3x5xf32> {
  // CHECK: 'graph.matmul' op cannot broadcast shapes 2 and 3
  %y = graph.matmul %a, %b : (tensor<2x3x4xf32>, tensor<3x4x5xf32>) -> tensor<2x3x5xf32>
  func.return %y : tensor<2x3x5xf32>
}

// -----

func.func @main(%a: tensor<2x4xf32>, %b: tensor<4x5xf32>, %bias: tensor<4xf32>) -> tensor<2x5xf32> {
  // CHECK: 'graph.matmul' op expects bias of shape 5, got tensor<4xf32>
  %y = graph.matmul %a, %b, %bias : (tensor<2x4xf32>, tensor<4x5xf32>, tensor<4xf32>) -> tensor<2x5xf32>
  func.return %y : tensor<2x5xf32>
}

// -----

func.func @main(%a: tensor<2x4xf32>, %b: tensor<4xf32>, %bias: tensor<1xf32>) -> tensor<2xf32> {
  // CHECK: 'graph.matmul' op expects a bias only with a matrix rhs, got tensor<4xf32>
  %y = graph.matmul %a, %b, %bias : (tensor<2x4xf32>, tensor<4xf32>, tensor<1xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}
