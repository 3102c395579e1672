// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s

// CHECK: 'kernel.func' @k0 must hold exactly one op and kernel.return, got graph.relu, graph.relu, kernel.return
kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = graph.relu %x : tensor<4xf32>
  %b = graph.relu %a : tensor<4xf32>
  kernel.return %b : tensor<4xf32>
}

// -----

kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = graph.relu %x : tensor<4xf32>
  kernel.return %a : tensor<4xf32>
}
func.func @main(%x: tensor<4xf16>) -> tensor<4xf16> {
  // CHECK: 'kernel.launch' of @k0 has types (tensor<4xf16>) -> (tensor<4xf16>), the kernel takes (tensor<4xf32>) -> tensor<4xf32>
  %y = kernel.launch @k0(%x) : (tensor<4xf16>) -> tensor<4xf16>
  func.return %y : tensor<4xf16>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'kernel.launch' names @nowhere, which is not a kernel.func
  %y = kernel.launch @nowhere(%x) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

// CHECK: #kernel.launch block of 2048 threads exceeds CUDA's 1024
kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {launch = #kernel.launch<tactic = grid_stride, grid = [1], block = [2048], shared = 0, tile = {}>} {
  %a = graph.relu %x : tensor<4xf32>
  kernel.return %a : tensor<4xf32>
}

// -----

kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = graph.relu %x : tensor<4xf32>
  kernel.return %a : tensor<4xf32>
}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'kernel.launch' of @k0 has 2 arena offsets for 1 results
  %y = kernel.launch @k0(%x) {arena_offsets = array<i64: 0, 256>} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
