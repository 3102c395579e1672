// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p outline-kernels,configure-kernels | filecheck %s --check-prefix=LAUNCH
// The RGB stem after fuse-conv-input-transpose: an NHWC conv (OHWI weight, NHWC result)
// that reads the model's NCHW input itself, on the SIMT implicit GEMM
// (M = 2·8·8 output pixels, N = 8 output channels, K = 3·3 taps × 3 channels).

// LAUNCH: kernel.func @k0_fused_conv(%0: tensor<2x3x16x16xf32>, %1: tensor<8x3x3x3xf32>, %2: tensor<1x1x1x8xf32>) -> tensor<2x8x8x8xf32>
// LAUNCH-SAME: tile = {block_k = 16, block_m = 32, block_n = 32, thread_m = 2, thread_n = 2}

// CHECK:        constexpr int M = 128, N = 8, K = 27;
// The input tile is loaded pixel-fast (consecutive threads: consecutive output pixels),
// the image at its NCHW base:
// CHECK:        const int a_r = tid % 32;
// CHECK-NEXT:   const int a_k = tid / 32;
// CHECK:        a_base[i] = (long long)pn * 768 + (long long)g * 768;
// k follows the OHWI weight, (tap, channel) with the channel fastest:
// CHECK:        const int kc = (k_ok ? k : 0) % 3;
// CHECK-NEXT:   const int kc_q = (k_ok ? k : 0) / 3;
// Channel kc of the pixel at (x0, x1) is one plane (16·16 elements) further per channel:
// CHECK:        As[kk][a_r + i * 32] = ok ? (float)in0[a_base[i] + kc * 256 + (x0) * 16 + x1] : 0.0f;
// The weight tile and the store are those of any NHWC conv: row n of the OHWI weight,
// the result channels last.
// CHECK:        Bs[kk][nn] = (n < N && k < K) ? (float)wg[(long long)n * K + k] : 0.0f;
// CHECK:        out0[((long long)m * 8 + ch)] = v1_0;
func.func @main(%x: tensor<2x3x16x16xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<1x1x1x8xf32>) -> tensor<2x8x8x8xf32> {
  %y = fused.conv %x, %w extras(%b : tensor<1x1x1x8xf32>) {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC", input_layout = "NCHW"} : (tensor<2x3x16x16xf32>, tensor<8x3x3x3xf32>) -> tensor<2x8x8x8xf32> {
  ^bb0(%acc: tensor<2x8x8x8xf32>, %bb: tensor<1x1x1x8xf32>):
    %s = graph.add %acc, %bb : (tensor<2x8x8x8xf32>, tensor<1x1x1x8xf32>) -> tensor<2x8x8x8xf32>
    %r = graph.relu %s : tensor<2x8x8x8xf32>
    fused.yield %r : tensor<2x8x8x8xf32>
  }
  func.return %y : tensor<2x8x8x8xf32>
}
