// RUN: optc %s -p graph-fold-batch-norm | filecheck %s
// RUN: optc %s -p 'graph-fold-batch-norm{decompose=false}' | filecheck %s --check-prefix=KEEP
// RUN: optc %s -p 'graph-fold-batch-norm{conv=false gemm=false}' | filecheck %s --check-prefix=NOFOLD
// Batch norms with constant statistics fold into the conv or gemm before them, else
// become mul + add by per-channel constants.

// A conv used only by the batch norm takes s = gamma / sqrt(var + eps) = [1, 2] into its
// weights and (b - mean) * s + beta into its bias.
// CHECK-LABEL: func.func @conv
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}[{{\[}}[1.000000e+00]]], {{\[}}[{{\[}}4.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[5.000000e-01, -5.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv %x, %[[W]], %[[B]] {{.*}} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    func.return %[[Y]]
// KEEP-LABEL: func.func @conv
// KEEP-NOT:     graph.batch_norm
// KEEP:         func.return
// NOFOLD-LABEL: func.func @conv
// NOFOLD:         %[[C:.*]] = graph.conv
// NOFOLD:         %[[M:.*]] = graph.mul %[[C]], %{{.*}} : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
// NOFOLD-NEXT:    %[[A:.*]] = graph.add %[[M]], %{{.*}} : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
// NOFOLD-NEXT:    func.return %[[A]]
func.func @conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %b = graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %gamma = graph.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %y = graph.batch_norm %c, %gamma, %beta, %mean, %var {epsilon = 0.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}

// A transposed conv's weight is (C, M/group, ...): output channel m is column m.
// CHECK-LABEL: func.func @conv_transpose
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}[{{\[}}[1.000000e+00]], {{\[}}[6.000000e+00]]]]> : tensor<1x2x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[-5.000000e-01, -5.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv_transpose %x, %[[W]], %[[B]]
// CHECK-NEXT:    func.return %[[Y]]
func.func @conv_transpose(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %w = graph.constant dense<[[[[1.0]], [[3.0]]]]> : tensor<1x2x1x1xf32>
  %gamma = graph.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %c = graph.conv_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, group = 1 : i64} : (tensor<1x1x3x3xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %y = graph.batch_norm %c, %gamma, %beta, %mean, %var {epsilon = 0.0 : f32} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %y : tensor<1x2x3x3xf32>
}

// The conv's result is also returned, so it must stay: the batch norm becomes mul + add
// by per-channel constants (or stays, with decompose=false).
// CHECK-LABEL: func.func @shared_conv
// CHECK:         %[[C:.*]] = graph.conv %x, %w {{.*}} -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<{{\[}}[{{\[}}1.000000e+00]], {{\[}}[2.000000e+00]]]> : tensor<2x1x1xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.constant dense<{{\[}}[{{\[}}-5.000000e-01]], {{\[}}[-5.000000e+00]]]> : tensor<2x1x1xf32>
// CHECK-NEXT:    %[[M:.*]] = graph.mul %[[C]], %[[S]] : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %[[A:.*]] = graph.add %[[M]], %[[T]] : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    func.return %[[A]], %[[C]]
// KEEP-LABEL: func.func @shared_conv
// KEEP:         %[[C:.*]] = graph.conv
// KEEP-NEXT:    %[[Y:.*]] = graph.batch_norm %[[C]]
// KEEP-NEXT:    func.return %[[Y]], %[[C]]
func.func @shared_conv(%x: tensor<1x1x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %gamma = graph.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %y = graph.batch_norm %c, %gamma, %beta, %mean, %var {epsilon = 0.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  func.return %y, %c : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// After a gemm the batch norm scales b's rows (trans_b = 1) and becomes its c.
// CHECK-LABEL: func.func @gemm
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [6.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.constant dense<[-5.000000e-01, -5.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.gemm %a, %[[B]], %[[C]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 1 : i64}
// CHECK-NEXT:    func.return %[[Y]]
func.func @gemm(%a: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %b = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %gamma = graph.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %g = graph.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 1 : i64} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %y = graph.batch_norm %g, %gamma, %beta, %mean, %var {epsilon = 0.0 : f32} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// A 2-D matmul scales its weight's columns and becomes a gemm with c.
// CHECK-LABEL: func.func @matmul
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<{{\[}}[1.000000e+00, 4.000000e+00], [3.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.constant dense<[-5.000000e-01, -5.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.gemm %a, %[[B]], %[[C]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 0 : i64}
// CHECK-NEXT:    func.return %[[Y]]
// CHECK-NOT:     graph.matmul
func.func @matmul(%a: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %b = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %gamma = graph.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %m = graph.matmul %a, %b : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %y = graph.batch_norm %m, %gamma, %beta, %mean, %var {epsilon = 0.0 : f32} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// Statistics that are not constants: nothing to fold.
// CHECK-LABEL: func.func @runtime_stats
// CHECK:         %[[Y:.*]] = graph.batch_norm %x, %gamma, %beta, %mean, %var
// CHECK-NEXT:    func.return %[[Y]]
func.func @runtime_stats(%x: tensor<1x2x4x4xf32>, %var: tensor<2xf32>) -> tensor<1x2x4x4xf32> {
  %gamma = graph.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %y = graph.batch_norm %x, %gamma, %beta, %mean, %var {epsilon = 1.0e-05 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  func.return %y : tensor<1x2x4x4xf32>
}
