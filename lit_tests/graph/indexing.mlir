// RUN: optc %s | optc | filecheck %s
// Round trip of the indexing ops: the printed form parses back to itself.

// CHECK-LABEL: func.func @gathers
func.func @gathers(%x: tensor<3x4x5xf32>, %i: tensor<2x2xi64>, %b: tensor<3x2x1xi64>) -> (tensor<2x5xf32>, tensor<3x2x5xf32>) {
  // CHECK: %{{.*}} = graph.gather_nd %{{.*}}, %{{.*}} {batch_dims = 0 : i64} : (tensor<3x4x5xf32>, tensor<2x2xi64>) -> tensor<2x5xf32>
  %g = graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<3x4x5xf32>, tensor<2x2xi64>) -> tensor<2x5xf32>
  // CHECK-NEXT: %{{.*}} = graph.gather_nd %{{.*}}, %{{.*}} {batch_dims = 1 : i64} : (tensor<3x4x5xf32>, tensor<3x2x1xi64>) -> tensor<3x2x5xf32>
  %h = graph.gather_nd %x, %b {batch_dims = 1 : i64} : (tensor<3x4x5xf32>, tensor<3x2x1xi64>) -> tensor<3x2x5xf32>
  func.return %g, %h : tensor<2x5xf32>, tensor<3x2x5xf32>
}

// CHECK-LABEL: func.func @scatters
func.func @scatters(%x: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2x3xf32>, %j: tensor<2x2xi64>, %v: tensor<2xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  // CHECK: %{{.*}} = graph.scatter_nd %{{.*}}, %{{.*}}, %{{.*}} {reduction = "none"} : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf32>) -> tensor<4x3xf32>
  %s = graph.scatter_nd %x, %i, %u {reduction = "none"} : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.scatter_nd %{{.*}}, %{{.*}}, %{{.*}} {reduction = "max"} : (tensor<4x3xf32>, tensor<2x2xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  %t = graph.scatter_nd %x, %j, %v {reduction = "max"} : (tensor<4x3xf32>, tensor<2x2xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  func.return %s, %t : tensor<4x3xf32>, tensor<4x3xf32>
}

// CHECK-LABEL: func.func @encodings
func.func @encodings(%i: tensor<3xi64>, %v: tensor<2xf32>, %w: tensor<2xi32>) -> (tensor<3x4xf32>, tensor<5x3xi32>) {
  // CHECK: %{{.*}} = graph.one_hot %{{.*}}, %{{.*}} {axis = 1 : i64, depth = 4 : i64} : (tensor<3xi64>, tensor<2xf32>) -> tensor<3x4xf32>
  %o = graph.one_hot %i, %v {axis = 1 : i64, depth = 4 : i64} : (tensor<3xi64>, tensor<2xf32>) -> tensor<3x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.one_hot %{{.*}}, %{{.*}} {axis = 0 : i64, depth = 5 : i64} : (tensor<3xi64>, tensor<2xi32>) -> tensor<5x3xi32>
  %p = graph.one_hot %i, %w {axis = 0 : i64, depth = 5 : i64} : (tensor<3xi64>, tensor<2xi32>) -> tensor<5x3xi32>
  func.return %o, %p : tensor<3x4xf32>, tensor<5x3xi32>
}

// CHECK-LABEL: func.func @masks_and_sums
func.func @masks_and_sums(%x: tensor<2x4x4xf32>, %m: tensor<4x4xi1>, %c: tensor<2x5xi64>) -> (tensor<2x4x4xf32>, tensor<4x4xi1>, tensor<2x5xi64>) {
  // CHECK: %{{.*}} = graph.trilu %{{.*}} {upper = 0 : i64, k = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %t = graph.trilu %x {upper = 0 : i64, k = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  // CHECK-NEXT: %{{.*}} = graph.trilu %{{.*}} {upper = 1 : i64, k = 1 : i64} : tensor<4x4xi1> -> tensor<4x4xi1>
  %u = graph.trilu %m {upper = 1 : i64, k = 1 : i64} : tensor<4x4xi1> -> tensor<4x4xi1>
  // CHECK-NEXT: %{{.*}} = graph.cum_sum %{{.*}} {axis = 1 : i64, exclusive = 1 : i64, reverse = 0 : i64} : tensor<2x5xi64> -> tensor<2x5xi64>
  %s = graph.cum_sum %c {axis = 1 : i64, exclusive = 1 : i64, reverse = 0 : i64} : tensor<2x5xi64> -> tensor<2x5xi64>
  func.return %t, %u, %s : tensor<2x4x4xf32>, tensor<4x4xi1>, tensor<2x5xi64>
}
