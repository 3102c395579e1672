// RUN: optc %s -p lower-to-kernels | filecheck %s --check-prefix=LAUNCH
// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// A BERT-base attention layer in f16 (8 x 12 heads, 128 tokens, head dim 64, padding mask
// [b, 1, 1, s], heads merged on the way out) is one flash-attention kernel: a block per
// (64-query tile, head, batch), 4 warps of 16 query rows, 64-key tiles through shared
// memory, q·kᵀ and p·v on the tensor cores.

// LAUNCH:      kernel.func @k0_fused_attention
// LAUNCH-SAME: launch = #kernel.launch<tactic = mma, grid = [2, 12, 8], block = [128, 1, 1], shared = 27648, tile = {block_k = 64, block_q = 64}>

// The parameters: q, k, v, the mask, the result; nothing else (shapes are constants).
// CHECK:      void k0_fused_attention_mma(float (&c)[4]
// CHECK:        mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK:      extern "C" __global__ void __launch_bounds__(128) k0_fused_attention(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK-NEXT:     const optc_half* __restrict__ in1,
// CHECK-NEXT:     const optc_half* __restrict__ in2,
// CHECK-NEXT:     const float* __restrict__ in3,
// CHECK-NEXT:     optc_half* __restrict__ out0)
// The mask plane of this batch (broadcast over heads and queries).
// CHECK:        const float* mask_plane = in3 + (long long)blockIdx.z * 128LL;
// CHECK:        for (int k0 = 0; k0 < k_end; k0 += 64) {
// CHECK:          k0_fused_attention_mma(s[n], a0, a1, a2, a3,
// Scaled scores: keys past s_k are -inf, then the additive mask.
// CHECK:          float x = s[n][e] * 0.125f;
// CHECK-NEXT:     if (kj >= 128) x = __int_as_float(0xff800000);
// CHECK-NEXT:     else x += (float)mask_plane[(kj)];
// The online softmax: a row's running max over its quad, rescale factors for l and o.
// CHECK:          mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
// CHECK:          const float alpha0 = exp2f((m0 - u0) * 1.4426950216293335f)
// CHECK:          k0_fused_attention_mma(o[nv], a0, a1, a2, a3, b0, b1);
// Written [b, s, h, d] (output_layout "bshd"), two halves per store.
// CHECK:        *(unsigned*)(out0 + (((long long)blockIdx.z * 128 + (qi)) * 12 + blockIdx.y) * 64LL + (j))
func.func @main(%q: tensor<8x12x128x64xf16>, %k: tensor<8x12x128x64xf16>, %v: tensor<8x12x128x64xf16>, %m: tensor<8x1x1x128xf32>) -> tensor<8x128x12x64xf16> {
  %y = fused.attention %q, %k, %v mask(%m : tensor<8x1x1x128xf32>) {scale = 0.125 : f32, causal = 0 : i64, output_layout = "bshd"} : (tensor<8x12x128x64xf16>, tensor<8x12x128x64xf16>, tensor<8x12x128x64xf16>) -> tensor<8x128x12x64xf16>
  func.return %y : tensor<8x128x12x64xf16>
}
