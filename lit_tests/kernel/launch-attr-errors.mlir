// RUN: optc %s --split-input-file --parsing-diagnostics | filecheck %s
// A #kernel.launch names its tactic first, as a lower-case identifier: a launch without
// one, or with another spelling, is a parse error at the place it goes wrong.

// CHECK: #kernel.launch starts with its tactic: #kernel.launch<tactic = NAME, grid = [..], ...>
kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {launch = #kernel.launch<grid = [1], block = [32], shared = 0, tile = {}>} {
  %a = graph.relu %x : tensor<4xf32>
  kernel.return %a : tensor<4xf32>
}

// -----

// CHECK: #kernel.launch tactic 'Grid_Stride' is not a lower-case identifier ([a-z][a-z0-9_]*)
kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {launch = #kernel.launch<tactic = Grid_Stride, grid = [1], block = [32], shared = 0, tile = {}>} {
  %a = graph.relu %x : tensor<4xf32>
  kernel.return %a : tensor<4xf32>
}

// -----

// CHECK: identifier expected (the tactic's name, a lower-case identifier)
kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {launch = #kernel.launch<tactic = "mma", grid = [1], block = [32], shared = 0, tile = {}>} {
  %a = graph.relu %x : tensor<4xf32>
  kernel.return %a : tensor<4xf32>
}
