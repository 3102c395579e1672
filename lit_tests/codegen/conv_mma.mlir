// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p lower-to-kernels | filecheck %s --check-prefix=LAUNCH
// An f16 channels-last conv with C_in = 24 (a multiple of 8) runs on tensor cores
// (conv/mma.py): M = 2·5·4 output pixels, N = 40, K = 3·3·24; each A-tile row is 16-byte
// cp.async chunks of 8 channels of one input pixel at tap k / 24, zero-filled in the
// padding. The RGB stem (C_in = 3) cannot load 16-byte channel chunks: it keeps the SIMT
// implicit GEMM.

// LAUNCH: kernel.func @k0_fused_conv
// LAUNCH-SAME: launch = #kernel.launch<tactic = mma, grid = [4, 1, 1], block = [64, 1, 1], shared = 20480, tile = {block_k = 32, block_m = 32, block_n = 32, stages = 4, warps_m = 1, warps_n = 2}>
// LAUNCH: kernel.func @k1_graph_conv
// LAUNCH-SAME: tile = {block_k = 16, block_m = 32, block_n = 32, thread_m = 2, thread_n = 2}

// CHECK:      extern "C" __global__ void __launch_bounds__(64) k0_fused_conv(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK:        extern __shared__ __align__(16) unsigned short smem[];
// CHECK:        const int tap = k / 24, ch = k % 24;
// CHECK:        const bool ok = a_ok[j] && k < 216 && (unsigned)x0 < 9u && (unsigned)x1 < 7u;
// CHECK-NEXT:   optc_cp_async16(As + r * 40 + cc, ok ? in0 + a_base[j] + ((x0) * 7 + x1) * 24 + ch : in0, ok ? 16 : 0);
// The weight [40, 216] is the n-major B operand, copied in 16-byte chunks too:
// CHECK:        optc_cp_async16(Bs + r * 40 + cc, ok ? in1 + o * 216 + i : in1, ok ? 16 : 0);
// CHECK:        OPTC_CP_ASYNC_WAIT(2);
// CHECK:        optc_ldmatrix_x4(a[mi], As + (wm + mi * 16 + (lane & 15)) * 40 + kk + (lane >> 4) * 8);
// CHECK:        optc_ldmatrix_x4(r, Bs + (wn + ni * 8 + (lane & 7) + (lane >> 4) * 8) * 40 + kk + ((lane >> 3) & 1) * 8);
// CHECK:        optc_mma_f16(c[mi][ni], a[mi], b[ni]);
// The epilogue runs on the fp32 accumulator and stores channels last:
// CHECK:        const float acc = c[mi][ni][h * 2 + q];
// CHECK:        out0[((long long)m * 40 + n)] = optc_to_half(

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k1_graph_conv(
// CHECK-NOT:    optc_mma_f16
// CHECK:        c[i][j] = fmaf(a[i], b[j], c[i][j]);

func.func @main(%x: tensor<2x9x7x24xf16>, %w: tensor<40x3x3x24xf16>, %b: tensor<1x1x1x40xf16>, %s: tensor<1x23x23x3xf16>, %ws: tensor<16x7x7x3xf16>) -> (tensor<2x5x4x40xf16>, tensor<1x12x12x16xf16>) {
  %y = fused.conv %x, %w extras(%b : tensor<1x1x1x40xf16>) {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<2x9x7x24xf16>, tensor<40x3x3x24xf16>) -> tensor<2x5x4x40xf16> {
  ^bb0(%acc: tensor<2x5x4x40xf16>, %ba: tensor<1x1x1x40xf16>):
    %t = graph.add %acc, %ba : (tensor<2x5x4x40xf16>, tensor<1x1x1x40xf16>) -> tensor<2x5x4x40xf16>
    %r = graph.relu %t : tensor<2x5x4x40xf16>
    fused.yield %r : tensor<2x5x4x40xf16>
  }
  %z = graph.conv %s, %ws {strides = array<i64: 2, 2>, pads = array<i64: 3, 3, 3, 3>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x23x23x3xf16>, tensor<16x7x7x3xf16>) -> tensor<1x12x12x16xf16>
  func.return %y, %z : tensor<2x5x4x40xf16>, tensor<1x12x12x16xf16>
}
