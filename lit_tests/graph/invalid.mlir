// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Verifier messages name the op and the rule.

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // CHECK: 'graph.conv' op expects result type tensor<1x4x6x6xf32>, got tensor<1x4x8x8xf32>
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  func.return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'graph.conv' op expects weight tensor<4x2x3x3xf32> to have 3/1 input channels per group, got 2
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<3x3xf32> {
  // CHECK: 'graph.transpose' op expects perm to be a permutation of 0..1, got [1, 1]
  %y = graph.transpose %x {perm = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<3x3xf32>
  func.return %y : tensor<3x3xf32>
}
