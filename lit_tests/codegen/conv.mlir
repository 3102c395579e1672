// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p lower-to-kernels | filecheck %s --check-prefix=LAUNCH
// A channels-last 3x3 stride-2 conv with a bias+relu epilogue becomes an implicit GEMM
// (M = 1·4·4 output pixels, N = 32 output channels, K = 3·3·16 taps × channels) on a
// block_m × block_n tile; a depthwise conv (group = channels) gets the direct kernel.

// LAUNCH: kernel.func @k0_fused_conv
// LAUNCH-SAME: launch = #kernel.launch<tactic = gemm, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {block_k = 16, block_m = 32, block_n = 32, thread_m = 2, thread_n = 2}>
// LAUNCH: kernel.func @k1_graph_conv
// LAUNCH-SAME: launch = #kernel.launch<tactic = depthwise, grid = [4, 1, 1], block = [256, 1, 1], shared = 0, tile = {}>

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_fused_conv(
// CHECK-NEXT:     const float* __restrict__ in0,
// CHECK-NEXT:     const float* __restrict__ in1,
// CHECK-NEXT:     const float* __restrict__ in2,
// CHECK-NEXT:     float* __restrict__ out0)
// CHECK:        constexpr int BM = 32, BN = 32, BK = 16;
// CHECK-NEXT:   constexpr int M = 16, N = 32, K = 144;
// CHECK-NEXT:   __shared__ float As[BK][BM + 1];
// CHECK-NEXT:   __shared__ float Bs[BK][BN + 1];
// The input tile reads channel kc of the pixel at tap (kt0, kt1), zero in the padding:
// CHECK:        const bool ok = a_ok[i] && k_ok && (unsigned)x0 < 8u && (unsigned)x1 < 8u;
// CHECK-NEXT:   As[kk][a_r + i * 16] = ok ? (float)in0[a_base[i] + ((x0) * 8 + x1) * 16 + kc] : 0.0f;
// CHECK:        c[i][j] = fmaf(a[i], b[j], c[i][j]);
// The epilogue reads the bias at the channel and stores channels last:
// CHECK:        const float x0 = in2[i3];
// CHECK-NEXT:   float v0_0 = (acc + x0);
// CHECK:        out0[((long long)m * 32 + ch)] = v1_0;

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k1_graph_conv(
// CHECK-NOT:    __shared__
// CHECK:        const int oc = idx % 16;
// CHECK:        acc = fmaf((float)xb[((x0) * 8 + x1) * 16], (float)wb[(kt0) * 3 + kt1], acc);
// CHECK:        out0[idx] = acc;

func.func @main(%x: tensor<1x8x8x16xf32>, %w: tensor<32x3x3x16xf32>, %b: tensor<1x1x1x32xf32>, %dw: tensor<16x3x3x1xf32>) -> (tensor<1x4x4x32xf32>, tensor<1x8x8x16xf32>) {
  %y = fused.conv %x, %w extras(%b : tensor<1x1x1x32xf32>) {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x8x8x16xf32>, tensor<32x3x3x16xf32>) -> tensor<1x4x4x32xf32> {
  ^bb0(%acc: tensor<1x4x4x32xf32>, %ba: tensor<1x1x1x32xf32>):
    %s = graph.add %acc, %ba : (tensor<1x4x4x32xf32>, tensor<1x1x1x32xf32>) -> tensor<1x4x4x32xf32>
    %r = graph.relu %s : tensor<1x4x4x32xf32>
    fused.yield %r : tensor<1x4x4x32xf32>
  }
  %d = graph.conv %x, %dw {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 16 : i64, layout = "NHWC"} : (tensor<1x8x8x16xf32>, tensor<16x3x3x1xf32>) -> tensor<1x8x8x16xf32>
  func.return %y, %d : tensor<1x4x4x32xf32>, tensor<1x8x8x16xf32>
}
