// RUN: optc %s -p configure-kernels | filecheck %s
// RUN: optc %s -p "configure-kernels{reconfigure=true}" | filecheck %s --check-prefix=AGAIN
// RUN: optc %s -p configure-kernels -t cuda | filecheck %s --check-prefix=CUDA
// Each kernel.func gets its generator's launch configuration; one configured by hand (or
// by a tuner) keeps it unless asked to choose again.

// CHECK:      kernel.func @k0_relu(%{{.*}}: tensor<1000xf32>) -> tensor<1000xf32> attributes {launch = #kernel.launch<tactic = grid_stride, grid = [{{[0-9]+}}, 1, 1], block = [{{[0-9]+}}, 1, 1], shared = 0, tile = {{.*}}>}
// CHECK:      kernel.func @k1_tuned(%{{.*}}) -> tensor<1000xf32> attributes {launch = #kernel.launch<tactic = grid_stride, grid = [3, 1, 1], block = [128, 1, 1], shared = 0, tile = {}>}
// AGAIN:      kernel.func @k1_tuned(%{{.*}}) -> tensor<1000xf32> attributes {launch = #kernel.launch<tactic = grid_stride, grid = [{{[0-9]+}}, 1, 1], block = [{{[0-9]+}}, 1, 1], shared = 0, tile = {{.*}}>}
// AGAIN-NOT:  grid = [3, 1, 1]

// CUDA: struct __align__(2) optc_half
// CUDA: extern "C" __global__ void {{.*}}k0_relu(
// CUDA: extern "C" __global__ void {{.*}}k1_tuned(

kernel.func @k0_relu(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %r = graph.relu %x : tensor<1000xf32>
  kernel.return %r : tensor<1000xf32>
}
kernel.func @k1_tuned(%x: tensor<1000xf32>) -> tensor<1000xf32> attributes {launch = #kernel.launch<tactic = grid_stride, grid = [3, 1, 1], block = [128, 1, 1], shared = 0, tile = {}>} {
  %r = graph.neg %x : tensor<1000xf32>
  kernel.return %r : tensor<1000xf32>
}
