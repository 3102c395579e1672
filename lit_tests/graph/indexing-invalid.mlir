// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Verifier messages of the indexing ops: one case per rule.
func.func @main(%x: tensor<3x4xf32>, %i: tensor<1x2xf32>) -> tensor<1xf32> {
  // CHECK: 'graph.gather_nd' op expects indices of type i32 or i64, got tensor<1x2xf32>
  %y = graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<3x4xf32>, tensor<1x2xf32>) -> tensor<1xf32>
  func.return %y : tensor<1xf32>
}

// -----

func.func @main(%x: tensor<3x4xf32>, %i: tensor<i64>) -> tensor<4xf32> {
  // CHECK: 'graph.gather_nd' op expects indices of rank at least 1, got tensor<i64>
  %y = graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<3x4xf32>, tensor<i64>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<3x4xf32>, %i: tensor<3x1xi64>) -> tensor<3xf32> {
  // CHECK: 'graph.gather_nd' op expects batch_dims below the ranks of tensor<3x4xf32> and tensor<3x1xi64>, got 2
  %y = graph.gather_nd %x, %i {batch_dims = 2 : i64} : (tensor<3x4xf32>, tensor<3x1xi64>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// -----

func.func @main(%x: tensor<3x4xf32>, %i: tensor<2x1xi64>) -> tensor<2xf32> {
  // CHECK: 'graph.gather_nd' op expects tensor<3x4xf32> and tensor<2x1xi64> to agree on their first 1 (batch) dimensions
  %y = graph.gather_nd %x, %i {batch_dims = 1 : i64} : (tensor<3x4xf32>, tensor<2x1xi64>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<3x4xf32>, %i: tensor<2x3xi64>) -> tensor<2xf32> {
  // CHECK: 'graph.gather_nd' op expects index tuples of length 1 to 2 for tensor<3x4xf32>, got 3
  %y = graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<3x4xf32>, tensor<2x3xi64>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<3x4xf32>, %i: tensor<2x1xi64>) -> tensor<2xf32> {
  // CHECK: 'graph.gather_nd' op expects result type tensor<2x4xf32>, got tensor<2xf32>
  %y = graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<3x4xf32>, tensor<2x1xi64>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @main(%x: tensor<4xf32>, %i: tensor<2x1xi64>, %u: tensor<2xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.scatter_nd' op expects reduction to be one of none, add, mul, max, min, got 'sub'
  %y = graph.scatter_nd %x, %i, %u {reduction = "sub"} : (tensor<4xf32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>, %i: tensor<2x1xi64>, %u: tensor<2xi64>) -> tensor<4xf32> {
  // CHECK: 'graph.scatter_nd' op expects operands of one element type, got tensor<4xf32>, tensor<2xi64>
  %y = graph.scatter_nd %x, %i, %u {reduction = "none"} : (tensor<4xf32>, tensor<2x1xi64>, tensor<2xi64>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<f32>, %i: tensor<2x1xi64>, %u: tensor<2xf32>) -> tensor<f32> {
  // CHECK: 'graph.scatter_nd' op expects data of rank at least 1, got tensor<f32>
  %y = graph.scatter_nd %x, %i, %u {reduction = "none"} : (tensor<f32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<f32>
  func.return %y : tensor<f32>
}

// -----

func.func @main(%x: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2xf32>) -> tensor<4x3xf32> {
  // CHECK: 'graph.scatter_nd' op expects updates of shape tensor<2x3xf32> for tensor<4x3xf32> and tensor<2x1xi64>, got tensor<2xf32>
  %y = graph.scatter_nd %x, %i, %u {reduction = "add"} : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  func.return %y : tensor<4x3xf32>
}

// -----

func.func @main(%i: tensor<3xi1>, %v: tensor<2xf32>) -> tensor<3x4xf32> {
  // CHECK: 'graph.one_hot' op expects numeric indices, got tensor<3xi1>
  %y = graph.one_hot %i, %v {axis = 1 : i64, depth = 4 : i64} : (tensor<3xi1>, tensor<2xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

func.func @main(%i: tensor<3xi64>, %v: tensor<3xf32>) -> tensor<3x4xf32> {
  // CHECK: 'graph.one_hot' op expects values as [off, on], a tensor of 2 elements, got tensor<3xf32>
  %y = graph.one_hot %i, %v {axis = 1 : i64, depth = 4 : i64} : (tensor<3xi64>, tensor<3xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

func.func @main(%i: tensor<3xi64>, %v: tensor<2xf32>) -> tensor<3x0xf32> {
  // CHECK: 'graph.one_hot' op expects a positive depth, got 0
  %y = graph.one_hot %i, %v {axis = 1 : i64, depth = 0 : i64} : (tensor<3xi64>, tensor<2xf32>) -> tensor<3x0xf32>
  func.return %y : tensor<3x0xf32>
}

// -----

func.func @main(%i: tensor<3xi64>, %v: tensor<2xf32>) -> tensor<3x4xf32> {
  // CHECK: 'graph.one_hot' op expects axis in [0, 2), got 2
  %y = graph.one_hot %i, %v {axis = 2 : i64, depth = 4 : i64} : (tensor<3xi64>, tensor<2xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.trilu' op expects an input of rank at least 2, got tensor<4xf32>
  %y = graph.trilu %x {upper = 1 : i64, k = 0 : i64} : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // CHECK: 'graph.trilu' op expects upper to be 0 or 1, got 2
  %y = graph.trilu %x {upper = 2 : i64, k = 0 : i64} : tensor<4x4xf32> -> tensor<4x4xf32>
  func.return %y : tensor<4x4xf32>
}

// -----

func.func @main(%x: tensor<4xi1>) -> tensor<4xi1> {
  // CHECK: 'graph.cum_sum' op expects a numeric input of rank at least 1, got tensor<4xi1>
  %y = graph.cum_sum %x {axis = 0 : i64, exclusive = 0 : i64, reverse = 0 : i64} : tensor<4xi1> -> tensor<4xi1>
  func.return %y : tensor<4xi1>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.cum_sum' op expects axis in [0, 1), got 1
  %y = graph.cum_sum %x {axis = 1 : i64, exclusive = 0 : i64, reverse = 0 : i64} : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.cum_sum' op expects exclusive to be 0 or 1, got -1
  %y = graph.cum_sum %x {axis = 0 : i64, exclusive = -1 : i64, reverse = 0 : i64} : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
