// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p outline-kernels,configure-kernels | filecheck %s --check-prefix=LAUNCH
// A layer norm over the hidden dim with the residual add before it (the sum is also
// yielded) and a relu after it: a warp per row, 16-byte loads, the row kept in registers
// between the mean, variance and write passes; the sum is written in the first pass. Eight
// rows: one row (one warp) per block, so that the rows spread over the SMs.

// LAUNCH: kernel.func @k0_fused_reduction
// LAUNCH-SAME: launch = #kernel.launch<tactic = row_per_warp, grid = [8, 1, 1], block = [32, 1, 1], shared = 0, tile = {cache = 1, rows_per_block = 1, threads_per_row = 32, vector = 4}>

// CHECK:      extern "C" __global__ void __launch_bounds__(32) k0_fused_reduction(
// CHECK-NEXT:     const float* __restrict__ in0,
// CHECK-NEXT:     const float* __restrict__ in1,
// CHECK-NEXT:     const float* __restrict__ in2,
// CHECK-NEXT:     const float* __restrict__ in3,
// CHECK-NEXT:     float* __restrict__ out0,
// CHECK-NEXT:     float* __restrict__ out1)
// CHECK:        const long long row = (long long)blockIdx.x * 1 + threadIdx.x / 32;
// CHECK:        float xs[24];
// CHECK:        // pass 0: mu
// CHECK:        *reinterpret_cast<uint4*>(a0v) = *reinterpret_cast<const uint4*>(in0 + (row * 768LL + col0));
// CHECK:        float p0 = (a0 + a1);
// CHECK:        xs[c * 4 + v] = x;
// CHECK:        o0v[v] = p0;
// CHECK:        __shfl_xor_sync(0xffffffffu, mu0, off, 32)
// CHECK:        const float mean = mu0 / 768.0f;
// CHECK:        // pass 1: va
// CHECK-NOT:    in0
// CHECK:        const float rstd = 1.0f / sqrtf(va0 / 768.0f + {{.*}});
// CHECK:        // pass 2: write
// CHECK:        const float y = (x - mean) * rstd * a2 + a3;
// CHECK:        *reinterpret_cast<uint4*>(out1 + (row * 768LL + col0)) = *reinterpret_cast<const uint4*>(o1v);
func.func @main(%x: tensor<8x768xf32>, %r: tensor<8x768xf32>, %s: tensor<768xf32>, %b: tensor<768xf32>) -> (tensor<8x768xf32>, tensor<8x768xf32>) {
  %e, %y = fused.reduction (%x, %r, %s, %b) : (tensor<8x768xf32>, tensor<8x768xf32>, tensor<768xf32>, tensor<768xf32>) -> (tensor<8x768xf32>, tensor<8x768xf32>) {
  ^bb0(%xa: tensor<8x768xf32>, %ra: tensor<8x768xf32>, %sa: tensor<768xf32>, %ba: tensor<768xf32>):
    %a = graph.add %xa, %ra : (tensor<8x768xf32>, tensor<8x768xf32>) -> tensor<8x768xf32>
    %n = graph.layer_norm %a, %sa, %ba {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<8x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<8x768xf32>
    %g = graph.relu %n : tensor<8x768xf32>
    fused.yield %a, %g : tensor<8x768xf32>, tensor<8x768xf32>
  }
  func.return %e, %y : tensor<8x768xf32>, tensor<8x768xf32>
}
