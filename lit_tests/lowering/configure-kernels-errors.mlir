// RUN: not optc %s -p configure-kernels 2>&1 | filecheck %s
// A kernel whose op has no CUDA generator is a compile error naming the kernel and the op
// (a reshape is a free view: it never becomes a kernel of its own).

// CHECK: @k0_reshape: 'graph.reshape' has no CUDA generator, so it cannot run on the GPU

kernel.func @k0_reshape(%x: tensor<4x4xf32>) -> tensor<16xf32> {
  %r = graph.reshape %x : tensor<4x4xf32> -> tensor<16xf32>
  kernel.return %r : tensor<16xf32>
}
