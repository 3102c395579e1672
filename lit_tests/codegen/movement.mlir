// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p lower-to-kernels | filecheck %s --check-prefix=LAUNCH
// Movement kernels are index maps: a grid-stride loop over output items, each item's
// source index printed from baked-in shapes (32-bit math: every tensor is below 2^31
// elements). Elements move as raw words of their size, 16 bytes at a time where the
// innermost contiguous run allows: concat along axis 1 of [2,x,8] f32 moves uint4
// (4 floats); a gather of f16 rows of 8 moves whole rows. The transpose that moves the
// innermost dimension (NCHW -> NHWC, merged to [2,3,20] -> [2,20,3]) goes through a
// 32x33 shared tile with 32x8 threads; the reversing slice is a plain per-element map.

// LAUNCH: kernel.func @k0_graph_concat{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>
// LAUNCH: kernel.func @k1_graph_gather{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 8}>
// LAUNCH: kernel.func @k2_graph_transpose{{.*}}launch = #kernel.launch<tactic = tiled, grid = [2, 1, 1], block = [32, 8, 1], shared = 0, tile = {rows = 8, tile = 32}>
// LAUNCH: kernel.func @k3_graph_slice{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 1}>

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_graph_concat(
// CHECK-NEXT:     const uint4* __restrict__ in0,
// CHECK-NEXT:     const uint4* __restrict__ in1,
// CHECK-NEXT:     uint4* __restrict__ out0)
// CHECK:        const unsigned int n = 32U;
// CHECK:        const unsigned int o = i / 16U, a = (i / 2U) % 8U, s = i % 2U;
// CHECK-NEXT:   if (a < 3U) out0[i] = in0[(o * 3U + a) * 2U + s];
// CHECK-NEXT:   else out0[i] = in1[(o * 5U + a - 3U) * 2U + s];

// Indices keep their type; negative ones count from the end, out-of-range ones clamp.
// CHECK:      k1_graph_gather(
// CHECK-NEXT:     const uint4* __restrict__ in0,
// CHECK-NEXT:     const long long* __restrict__ in1,
// CHECK-NEXT:     uint4* __restrict__ out0)
// CHECK:        long long q = (long long)(in1[a]);
// CHECK-NEXT:   q = q < 0 ? q + 10LL : q;
// CHECK-NEXT:   q = q < 0 ? 0LL : (q >= 10LL ? 9LL : q);

// CHECK:      k2_graph_transpose(
// CHECK-NEXT:     const unsigned short* __restrict__ in0,
// CHECK-NEXT:     unsigned short* __restrict__ out0)
// CHECK:        __shared__ unsigned short tile[32][33];
// CHECK:        if (ca < 20U && cb < 3U) tile[r][tx] = in0[in_base + cb * 20U + ca];
// CHECK:        __syncthreads();
// CHECK:        if (ca < 20U && cb < 3U) out0[out_base + ca * 3U + cb] = tile[tx][r];

// Negative steps: modular unsigned arithmetic from the last element backwards.
// CHECK:      k3_graph_slice(
// CHECK:        out0[i] = in0[47U + (0U - c0 * 24U - c1 * 8U - c2)];
// CHECK-NOT:  __shared__
func.func @main(%x: tensor<2x3x8xf32>, %y: tensor<2x5x8xf32>, %e: tensor<10x8xf16>, %i: tensor<3xi64>, %t: tensor<2x3x4x5xf16>) -> (tensor<2x8x8xf32>, tensor<3x8xf16>, tensor<2x4x5x3xf16>, tensor<2x3x8xf32>) {
  %c = graph.concat %x, %y {axis = 1 : i64} : (tensor<2x3x8xf32>, tensor<2x5x8xf32>) -> tensor<2x8x8xf32>
  %g = graph.gather %e, %i {axis = 0 : i64} : (tensor<10x8xf16>, tensor<3xi64>) -> tensor<3x8xf16>
  %p = graph.transpose %t {perm = array<i64: 0, 2, 3, 1>} : tensor<2x3x4x5xf16> -> tensor<2x4x5x3xf16>
  %s = graph.slice %x {starts = array<i64: 1, 2, 7>, steps = array<i64: -1, -1, -1>} : tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  func.return %c, %g, %p, %s : tensor<2x8x8xf32>, tensor<3x8xf16>, tensor<2x4x5x3xf16>, tensor<2x3x8xf32>
}
