// RUN: optc %s -p graph-recognize-layer-norm | filecheck %s
// RUN: optc %s -p 'graph-recognize-layer-norm{affine=false}' | filecheck %s --check-prefix=NOAFFINE
// LayerNorm as exporters write it before opset 17 collapses into graph.layer_norm; near
// misses stay as they are.

// PyTorch's nn.LayerNorm(8) at opset 13-16: (x - mean) / sqrt(mean((x - mean)^2) + eps) * gamma + beta.
// CHECK-LABEL: func.func @torch
// CHECK-NEXT:    %[[G:.*]] = graph.constant dense<[1.000000e+00, 2.000000e+00
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[5.000000e-01, 0.000000e+00
// CHECK-NEXT:    %[[Y:.*]] = graph.layer_norm %{{.*}}, %[[G]], %[[B]] {axis = 2 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
// NOAFFINE-LABEL: func.func @torch
// NOAFFINE:         %[[ONES:.*]] = graph.constant dense<1.000000e+00> : tensor<8xf32>
// NOAFFINE-NEXT:    %[[N:.*]] = graph.layer_norm %{{.*}}, %[[ONES]] {axis = 2 : i64, epsilon = 1.000000e-05 : f32}
// NOAFFINE-NEXT:    %[[S:.*]] = graph.mul %[[N]], %{{.*}}
// NOAFFINE-NEXT:    graph.add %[[S]], %{{.*}}
func.func @torch(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %two = graph.constant dense<2.0> : tensor<f32>
  %eps = graph.constant dense<1.0e-05> : tensor<f32>
  %gamma = graph.constant dense<[1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0]> : tensor<8xf32>
  %beta = graph.constant dense<[0.5, 0.0, -0.5, 1.0, 0.5, 0.0, -0.5, 1.0]> : tensor<8xf32>
  %mean = graph.reduce_mean %x {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %ve = graph.add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
  %std = graph.sqrt %ve : tensor<2x4x1xf32>
  %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %s = graph.mul %n, %gamma : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %y = graph.add %s, %beta : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  func.return %y : tensor<2x4x8xf32>
}

// tf2onnx's form: SquaredDifference as its own x - mean times itself, Reciprocal then Mul;
// no gamma, so the scale is ones.
// CHECK-LABEL: func.func @tensorflow
// CHECK-NEXT:    %[[ONES:.*]] = graph.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.layer_norm %{{.*}}, %[[ONES]], %{{.*}} {axis = 1 : i64, epsilon = 1.000000e-03 : f32}
// CHECK-NEXT:    func.return %[[Y]]
func.func @tensorflow(%x: tensor<3x8xf32>, %beta: tensor<8xf32>) -> tensor<3x8xf32> {
  %eps = graph.constant dense<0.001> : tensor<1xf32>
  %mean = graph.reduce_mean %x {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<3x8xf32> -> tensor<3x1xf32>
  %dv = graph.sub %x, %mean : (tensor<3x8xf32>, tensor<3x1xf32>) -> tensor<3x8xf32>
  %sq = graph.mul %dv, %dv : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<3x8xf32> -> tensor<3x1xf32>
  %ve = graph.add %eps, %var : (tensor<1xf32>, tensor<3x1xf32>) -> tensor<3x1xf32>
  %std = graph.sqrt %ve : tensor<3x1xf32>
  %r = graph.reciprocal %std : tensor<3x1xf32>
  %dn = graph.sub %x, %mean : (tensor<3x8xf32>, tensor<3x1xf32>) -> tensor<3x8xf32>
  %n = graph.mul %r, %dn : (tensor<3x1xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = graph.add %beta, %n : (tensor<8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  func.return %y : tensor<3x8xf32>
}

// Two trailing axes normalise from the first of them.
// CHECK-LABEL: func.func @two_axes
// CHECK-NEXT:    %[[Y:.*]] = graph.layer_norm %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x4x8xf32>, tensor<4x8xf32>) -> tensor<2x4x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @two_axes(%x: tensor<2x4x8xf32>, %gamma: tensor<4x8xf32>) -> tensor<2x4x8xf32> {
  %two = graph.constant dense<2.0> : tensor<f32>
  %eps = graph.constant dense<1.0e-05> : tensor<f32>
  %mean = graph.reduce_mean %x {axes = array<i64: 1, 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 1, 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %ve = graph.add %var, %eps : (tensor<2x1x1xf32>, tensor<f32>) -> tensor<2x1x1xf32>
  %std = graph.sqrt %ve : tensor<2x1x1xf32>
  %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %y = graph.mul %gamma, %n : (tensor<4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  func.return %y : tensor<2x4x8xf32>
}

// A gamma of shape 1x1x8 would widen graph.layer_norm's scale: it stays a Mul after it,
// and so does the Add of beta that follows the Mul.
// CHECK-LABEL: func.func @gamma_not_absorbed
// CHECK-NOT:     graph.reduce_mean
// CHECK:         %[[N:.*]] = graph.layer_norm
// CHECK-NEXT:    %[[S:.*]] = graph.mul %[[N]], %{{.*}} : (tensor<2x4x8xf32>, tensor<1x1x8xf32>) -> tensor<2x4x8xf32>
// CHECK-NEXT:    graph.add %[[S]]
func.func @gamma_not_absorbed(%x: tensor<2x4x8xf32>, %gamma: tensor<1x1x8xf32>, %beta: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %two = graph.constant dense<2.0> : tensor<f32>
  %eps = graph.constant dense<1.0e-05> : tensor<f32>
  %mean = graph.reduce_mean %x {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %ve = graph.add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
  %std = graph.sqrt %ve : tensor<2x4x1xf32>
  %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %s = graph.mul %n, %gamma : (tensor<2x4x8xf32>, tensor<1x1x8xf32>) -> tensor<2x4x8xf32>
  %y = graph.add %s, %beta : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  func.return %y : tensor<2x4x8xf32>
}

// Near miss: the mean is also returned, so it must be computed anyway.
// CHECK-LABEL: func.func @shared_mean
// CHECK-NOT:     graph.layer_norm
// CHECK:         graph.sqrt
func.func @shared_mean(%x: tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<2x4x1xf32>) {
  %two = graph.constant dense<2.0> : tensor<f32>
  %eps = graph.constant dense<1.0e-05> : tensor<f32>
  %mean = graph.reduce_mean %x {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %ve = graph.add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
  %std = graph.sqrt %ve : tensor<2x4x1xf32>
  %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  func.return %n, %mean : tensor<2x4x8xf32>, tensor<2x4x1xf32>
}

// Near miss: a mean over axis 1 of three is not a layer norm (it normalises to the last axis).
// CHECK-LABEL: func.func @middle_axis
// CHECK-NOT:     graph.layer_norm
// CHECK:         graph.sqrt
func.func @middle_axis(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %two = graph.constant dense<2.0> : tensor<f32>
  %eps = graph.constant dense<1.0e-05> : tensor<f32>
  %mean = graph.reduce_mean %x {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x1x8xf32>
  %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x1x8xf32>) -> tensor<2x4x8xf32>
  %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x1x8xf32>
  %ve = graph.add %var, %eps : (tensor<2x1x8xf32>, tensor<f32>) -> tensor<2x1x8xf32>
  %std = graph.sqrt %ve : tensor<2x1x8xf32>
  %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x1x8xf32>) -> tensor<2x4x8xf32>
  func.return %n : tensor<2x4x8xf32>
}

// Near miss: the variance is taken over other axes than the mean.
// CHECK-LABEL: func.func @variance_other_axes
// CHECK-NOT:     graph.layer_norm
// CHECK:         graph.sqrt
func.func @variance_other_axes(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %two = graph.constant dense<2.0> : tensor<f32>
  %eps = graph.constant dense<1.0e-05> : tensor<f32>
  %mean = graph.reduce_mean %x {axes = array<i64: 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = graph.reduce_mean %sq {axes = array<i64: 1, 2>, keepdims = 1 : i64} : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %ve = graph.add %var, %eps : (tensor<2x1x1xf32>, tensor<f32>) -> tensor<2x1x1xf32>
  %std = graph.sqrt %ve : tensor<2x1x1xf32>
  %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  func.return %n : tensor<2x4x8xf32>
}
