// RUN: optc %s | optc | filecheck %s
// The launch attribute (the tactic and its configuration) round-trips (missing grid/block
// dimensions are 1).

// CHECK: attributes {launch = #kernel.launch<tactic = grid_stride, grid = [4, 2, 1], block = [128, 1, 1], shared = 1024, tile = {block_m = 64, vector = 4}>}
kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {launch = #kernel.launch<tactic = grid_stride, grid = [4, 2], block = [128], shared = 1024, tile = {vector = 4, block_m = 64}>} {
  %r = graph.relu %x : tensor<4xf32>
  kernel.return %r : tensor<4xf32>
}
