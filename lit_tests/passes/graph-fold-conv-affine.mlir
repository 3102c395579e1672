// RUN: optc %s -p graph-fold-conv-affine | filecheck %s
// RUN: optc %s -p 'graph-fold-conv-affine{scale=false}' | filecheck %s --check-prefix=NOSCALE
// RUN: optc %s -p 'graph-fold-conv-affine{shift=false}' | filecheck %s --check-prefix=NOSHIFT
// Per-channel constant mul/div/add/sub after a conv fold into its weights and bias,
// chains into one conv.

// conv * [3, 0.5] + [1, -1] per channel: one conv with scaled weights and a bias.
// CHECK-LABEL: func.func @mul_add
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}{{\[}}{{\[}}[3.000000e+00]]], {{\[}}{{\[}}[1.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv %x, %[[W]], %[[B]]
// CHECK-NEXT:    func.return %[[Y]]
// NOSCALE-LABEL: func.func @mul_add
// NOSCALE:         graph.mul
// NOSCALE:         graph.add
// NOSHIFT-LABEL: func.func @mul_add
// NOSHIFT:         %[[W:.*]] = graph.constant dense<{{\[}}{{\[}}{{\[}}[3.000000e+00]]], {{\[}}{{\[}}[1.000000e+00]]]]> : tensor<2x1x1x1xf32>
// NOSHIFT-NEXT:    %[[C:.*]] = graph.conv %x, %[[W]] {{.*}} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
// NOSHIFT:         graph.add %{{.*}}, %[[C]]
func.func @mul_add(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %s = graph.constant dense<[[[3.0]], [[0.5]]]> : tensor<2x1x1xf32>
  %m = graph.mul %c, %s : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %t = graph.constant dense<[[[[1.0]], [[-1.0]]]]> : tensor<1x2x1x1xf32>
  %y = graph.add %t, %m : (tensor<1x2x1x1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}

// (conv(x, w, [4, 6]) / 2) - [1, -1]: a scalar divisor, an existing bias.
// CHECK-LABEL: func.func @div_sub
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}{{\[}}{{\[}}[5.000000e-01]]], {{\[}}{{\[}}[1.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[1.000000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv %x, %[[W]], %[[B]]
// CHECK-NEXT:    func.return %[[Y]]
func.func @div_sub(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %b = graph.constant dense<[4.0, 6.0]> : tensor<2xf32>
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %d = graph.constant dense<2.0> : tensor<f32>
  %q = graph.div %c, %d : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %t = graph.constant dense<[[[1.0]], [[-1.0]]]> : tensor<2x1x1xf32>
  %y = graph.sub %q, %t : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}

// c - conv is conv with negated weights and bias c.
// CHECK-LABEL: func.func @constant_minus_conv
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}{{\[}}{{\[}}[-1.000000e+00]]], {{\[}}{{\[}}[-2.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv %x, %[[W]], %[[B]]
// CHECK-NEXT:    func.return %[[Y]]
func.func @constant_minus_conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %t = graph.constant dense<[[[1.0]], [[-1.0]]]> : tensor<2x1x1xf32>
  %y = graph.sub %t, %c : (tensor<2x1x1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}

// A transposed conv's output channel m is column m of its (C, M/group, ...) weight.
// CHECK-LABEL: func.func @conv_transpose
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}{{\[}}{{\[}}[2.000000e+00]], {{\[}}[1.500000e+00]]]]> : tensor<1x2x1x1xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv_transpose %x, %[[W]] {{.*}} : (tensor<1x1x3x3xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @conv_transpose(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %w = graph.constant dense<[[[[1.0]], [[3.0]]]]> : tensor<1x2x1x1xf32>
  %c = graph.conv_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, group = 1 : i64} : (tensor<1x1x3x3xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %s = graph.constant dense<[[[2.0]], [[0.5]]]> : tensor<2x1x1xf32>
  %y = graph.mul %s, %c : (tensor<2x1x1xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %y : tensor<1x2x3x3xf32>
}

// Not folded: a [2] constant broadcasts along the width, not the channels.
// CHECK-LABEL: func.func @not_per_channel
// CHECK:         %[[C:.*]] = graph.conv
// CHECK:         graph.mul %[[C]], %s
func.func @not_per_channel(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %s = graph.constant dense<[3.0, 0.5]> : tensor<2xf32>
  %y = graph.mul %c, %s : (tensor<1x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %y : tensor<1x2x2x2xf32>
}

// Not folded: the conv's unscaled result is returned too.
// CHECK-LABEL: func.func @shared_conv
// CHECK:         %[[C:.*]] = graph.conv
// CHECK:         %[[Y:.*]] = graph.mul %[[C]], %s
// CHECK-NEXT:    func.return %[[Y]], %[[C]]
func.func @shared_conv(%x: tensor<1x1x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %s = graph.constant dense<[[[3.0]], [[0.5]]]> : tensor<2x1x1xf32>
  %y = graph.mul %c, %s : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  func.return %y, %c : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// Not folded: s / conv is not affine in the conv.
// CHECK-LABEL: func.func @constant_over_conv
// CHECK:         %[[C:.*]] = graph.conv
// CHECK:         graph.div %s, %[[C]]
func.func @constant_over_conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %s = graph.constant dense<[[[3.0]], [[0.5]]]> : tensor<2x1x1xf32>
  %y = graph.div %s, %c : (tensor<2x1x1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}

// Not folded: the weight is not a constant.
// CHECK-LABEL: func.func @runtime_weight
// CHECK-NEXT:    %[[C:.*]] = graph.conv %x, %w
// CHECK:         graph.mul %[[C]], %s
func.func @runtime_weight(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> {
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %s = graph.constant dense<[[[3.0]], [[0.5]]]> : tensor<2x1x1xf32>
  %y = graph.mul %c, %s : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}
