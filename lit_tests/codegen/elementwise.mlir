// RUN: optc %s -p configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p configure-kernels | filecheck %s --check-prefix=LAUNCH
// Pointwise kernels (already outlined): a pointer per argument, one per result, nothing
// else. Each thread takes a 16-byte vector (4 x f32, 8 x f16) in a grid-stride loop;
// operands that are full size, or whose innermost run the vector divides ([4] inside
// [2,3,4]), are read a vector at a time; others per element at their broadcast index
// ([3,1] reads c[i1]). Elements after the last whole vector are a scalar tail.

// LAUNCH: kernel.func @k0_fused_elementwise{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>
// LAUNCH: kernel.func @k1_fused_elementwise{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 8}>

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_fused_elementwise(
// CHECK-NEXT:     const float* __restrict__ in0,
// CHECK-NEXT:     const float* __restrict__ in1,
// CHECK-NEXT:     const float* __restrict__ in2,
// CHECK-NEXT:     float* __restrict__ out0)
// CHECK:        for (int base = ((int)blockIdx.x * blockDim.x + threadIdx.x) * 4; base < 24; base += stride * 4) {
// CHECK:          reinterpret_cast<uint4*>(x0)[0] = reinterpret_cast<const uint4*>(in0 + i)[0];
// CHECK-NEXT:     reinterpret_cast<uint4*>(x1)[0] = reinterpret_cast<const uint4*>(in1 + i2)[0];
// CHECK:        for (int l = 0; l < 4; ++l) {
// CHECK:          const float a3 = in2[i1];
// CHECK:          y0[l] = v5;
// CHECK:        reinterpret_cast<uint4*>(out0 + base)[0] = reinterpret_cast<uint4*>(y0)[0];
// No tail: 24 elements are 6 vectors.
// CHECK-NOT:    for (int i =

// 35 f16 elements: 4 vectors of 8, then a tail of 3; the scalar is read per element.
// CHECK:      k1_fused_elementwise(
// CHECK:        base < 32; base += stride * 8) {
// CHECK:          const float a1 = optc_widen(in1[0]);
// CHECK:          y0[l] = optc_to_half(v3);
// CHECK:      for (int i = 32 + (int)blockIdx.x * blockDim.x + threadIdx.x; i < 35; i += stride) {
// CHECK:        out0[i] = optc_to_half(v3);
builtin.module {
  kernel.func @k0_fused_elementwise(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<3x1xf32>) -> tensor<2x3x4xf32> {
    %e = fused.elementwise (%x, %b, %c) : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32> {
    ^bb0(%xa: tensor<2x3x4xf32>, %ba: tensor<4xf32>, %ca: tensor<3x1xf32>):
      %0 = graph.add %xa, %ba : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
      %1 = graph.mul %0, %ca : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
      %2 = graph.relu %1 : tensor<2x3x4xf32>
      fused.yield %2 : tensor<2x3x4xf32>
    }
    kernel.return %e : tensor<2x3x4xf32>
  }
  kernel.func @k1_fused_elementwise(%h: tensor<5x7xf16>, %s: tensor<f16>) -> tensor<5x7xf16> {
    %g = fused.elementwise (%h, %s) : (tensor<5x7xf16>, tensor<f16>) -> tensor<5x7xf16> {
    ^bb0(%ha: tensor<5x7xf16>, %sa: tensor<f16>):
      %0 = graph.mul %ha, %sa : (tensor<5x7xf16>, tensor<f16>) -> tensor<5x7xf16>
      %1 = graph.gelu %0 {approximate = "tanh"} : tensor<5x7xf16>
      fused.yield %1 : tensor<5x7xf16>
    }
    kernel.return %g : tensor<5x7xf16>
  }
  func.func @main(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<3x1xf32>, %h: tensor<5x7xf16>, %s: tensor<f16>) -> (tensor<2x3x4xf32>, tensor<5x7xf16>) {
    %e = kernel.launch @k0_fused_elementwise(%x, %b, %c) : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %g = kernel.launch @k1_fused_elementwise(%h, %s) : (tensor<5x7xf16>, tensor<f16>) -> tensor<5x7xf16>
    func.return %e, %g : tensor<2x3x4xf32>, tensor<5x7xf16>
  }
}
