// RUN: optc %s -p outline-kernels,configure-kernels | filecheck %s --check-prefix=LAUNCH
// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// Matrix products: f16 runs on the tensor cores (mma.sync m16n8k16, cp.async, ldmatrix),
// f32 on a SIMT kernel with register tiles; configure picks tiles by shape (BERT batch 1:
// M = 128 gets small tiles so the GPU fills), and the epilogue is printed per element
// (and, for the tensor-core kernel, per 8 columns with 16-byte stores).

// A BERT FFN-up projection: [1,128,768] x [768,3072] + bias, gelu.
// LAUNCH: kernel.func @k0_fused_matmul
// LAUNCH-SAME: launch = #kernel.launch<tactic = mma, grid = [96, 1, 1], block = [128, 1, 1], shared = 32768, tile = {block_k = 32, block_m = 64, block_n = 64, stages = 4, warps_m = 2, warps_n = 2}>
// A small f32 QKV projection whose epilogue splits the heads (M = 10: a skinny tile).
// LAUNCH: kernel.func @k1_fused_matmul
// LAUNCH-SAME: tile = {block_k = 16, block_m = 16, block_n = 128, thread_m = 1, thread_n = 8}

// CHECK:      extern "C" __global__ void __launch_bounds__(128) k0_fused_matmul(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK-NEXT:     const optc_half* __restrict__ in1,
// CHECK-NEXT:     const optc_half* __restrict__ in2,
// CHECK-NEXT:     optc_half* __restrict__ out0)
// CHECK:        extern __shared__ __align__(16) unsigned short smem[];
// The epilogue, 8 columns at once (N % 8 == 0): bias by column, gelu, rounded to f16 once,
// stored with one 16-byte store. It stores every element, so no per-element lambda is
// declared beside it (NVRTC would warn that it is never used).
// CHECK-NOT:    auto epilogue =
// CHECK:        auto epilogue8 = [&](const uint4 raw, const int bz, const int m, const int nb) {
// CHECK:          const float acc = optc_widen(rv[j]);
// CHECK-NEXT:     const float x0 = optc_widen(in2[n]);
// CHECK-NEXT:     float e0_0 = (acc + x0);
// CHECK-NEXT:     float e1_0 = (0.5f * e0_0 * (1.0f + erff(
// CHECK-NEXT:     v0[j] = optc_to_half(e1_0);
// CHECK:          const int f = (((int)bz * 128 + m) * 3072 + n);
// CHECK-NEXT:     { ((uint4*)(out0 + f))[0] = ((const uint4*)v0)[0]; }
// Both operands are 16-byte aligned along their contiguous axes: cp.async, zero-filled at
// edges, into dense tiles whose 16-byte chunks are XOR-swizzled by row (no padding).
// CHECK:        optc_cp_async16(As + (r) * 32 + ((((cc) >> 3) ^ (((r) >> 1) & 3)) << 3), ok ? A + o * 768 + i : A, ok ? 16 : 0);
// CHECK:        optc_cp_async16(Bs + (r) * 64 + ((((cc) >> 3) ^ ((r) & 7)) << 3), ok ? B + o * 3072 + i : B, ok ? 16 : 0);
// CHECK:        OPTC_CP_ASYNC_WAIT(2);
// B is [K, N] (n fastest): its fragments come from ldmatrix.trans; registers double-buffered
// over k-slices (slice 1's fragments load while slice 0's mma run).
// CHECK:        optc_ldmatrix_x4(a[0][mi],
// CHECK:        optc_ldmatrix_x4_trans(r,
// CHECK:        optc_ldmatrix_x4(a[1][mi],
// CHECK:        optc_mma_f16(acc[mi][ni], a[0][mi], b[0][ni]);
// CHECK:        OPTC_CP_ASYNC_WAIT(2);  // tile kt + 1 has landed
// CHECK:        optc_mma_f16(acc[mi][ni], a[1][mi], b[1][ni]);
// The accumulators, rounded to f16, are staged in shared memory; each thread then takes 8 columns.
// CHECK:        *(unsigned*)(smem + r * 72 + c) = (unsigned)optc_to_half(acc[mi][ni][2 * h]).bits
// CHECK:        const uint4 raw = *(const uint4*)(smem + r * 72 + cc);
// CHECK-NEXT:   epilogue8(raw, bz, m, n);

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k1_fused_matmul(
// CHECK:        __shared__ __align__(16) float As[2][16][20];
// The head split: q, k, v are [1, heads, seq, dim] = split n, then index by (n / dim, m, n % dim).
// CHECK:        if (n < 64) out0[((n / 16) * 160 + m * 16 + (n % 16))] = e0_0;
// CHECK-NEXT:   if (n >= 64 && n < 128) out1[(((n - 64) / 16) * 160 + m * 16 + ((n - 64) % 16))] = e0_0;
// CHECK-NEXT:   if (n >= 128) out2[
// transpose_b: B is read as [N, K].
// CHECK:        (float)B[(int)(n0 + col) * 64 + k0 + kk]
// CHECK:        c[i][j] += a[i] * b[j];
func.func @main(%a: tensor<1x128x768xf16>, %w: tensor<768x3072xf16>, %bias: tensor<3072xf16>,
                %x: tensor<1x10x64xf32>, %wqkv: tensor<192x64xf32>, %bqkv: tensor<192xf32>)
    -> (tensor<1x128x3072xf16>, tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>) {
  %y = fused.matmul %a, %w extras(%bias : tensor<3072xf16>) {transpose_b = 0 : i64} : (tensor<1x128x768xf16>, tensor<768x3072xf16>) -> tensor<1x128x3072xf16> {
  ^bb0(%acc: tensor<1x128x3072xf16>, %bb: tensor<3072xf16>):
    %s = graph.add %acc, %bb : (tensor<1x128x3072xf16>, tensor<3072xf16>) -> tensor<1x128x3072xf16>
    %g = graph.gelu %s {approximate = "none"} : tensor<1x128x3072xf16>
    fused.yield %g : tensor<1x128x3072xf16>
  }
  %q, %k, %v = fused.matmul %x, %wqkv extras(%bqkv : tensor<192xf32>) {transpose_b = 1 : i64} : (tensor<1x10x64xf32>, tensor<192x64xf32>) -> tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32> {
  ^bb0(%acc: tensor<1x10x192xf32>, %bb: tensor<192xf32>):
    %s = graph.add %acc, %bb : (tensor<1x10x192xf32>, tensor<192xf32>) -> tensor<1x10x192xf32>
    %p0, %p1, %p2 = graph.split %s {axis = 2 : i64, split = array<i64: 64, 64, 64>} : tensor<1x10x192xf32> -> tensor<1x10x64xf32>, tensor<1x10x64xf32>, tensor<1x10x64xf32>
    %r0 = graph.reshape %p0 : tensor<1x10x64xf32> -> tensor<1x10x4x16xf32>
    %t0 = graph.transpose %r0 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x10x4x16xf32> -> tensor<1x4x10x16xf32>
    %r1 = graph.reshape %p1 : tensor<1x10x64xf32> -> tensor<1x10x4x16xf32>
    %t1 = graph.transpose %r1 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x10x4x16xf32> -> tensor<1x4x10x16xf32>
    %r2 = graph.reshape %p2 : tensor<1x10x64xf32> -> tensor<1x10x4x16xf32>
    %t2 = graph.transpose %r2 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x10x4x16xf32> -> tensor<1x4x10x16xf32>
    fused.yield %t0, %t1, %t2 : tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>
  }
  func.return %y, %q, %k, %v : tensor<1x128x3072xf16>, tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>, tensor<1x4x10x16xf32>
}
