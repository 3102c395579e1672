// RUN: optc %s -p outline-kernels,configure-kernels | filecheck %s --check-prefix=LAUNCH
// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// Integer contractions (the quant level's): a linear layer's ui8 activations by its i8
// weight [N, K] into i32, requantized to i8 by the epilogue, runs the tensor-core kernel on
// byte pairs (mma.sync m16n8k32 u8.s8, block_k in bytes); its epilogue's f32 ops round one
// by one (__fmul_rn, __fadd_rn: no fma), as the reference's graph ops do. An NHWC conv with
// C_in = 24 (not a multiple of 16) takes the SIMT implicit GEMM, summing in unsigned int.

// LAUNCH: kernel.func @k0_fused_matmul
// LAUNCH-SAME: launch = #kernel.launch<tactic = mma, {{.*}} tile = {block_k = 64, block_m = 32, block_n = 64, stages = 4, warps_m = 2, warps_n = 2}>
// LAUNCH: kernel.func @k1_fused_conv
// LAUNCH-SAME: launch = #kernel.launch<tactic = gemm,

// CHECK:      void optc_mma_u8s8(int* d, const unsigned* a, const unsigned* b) {
// CHECK-NEXT:     asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32
// CHECK:      extern "C" __global__ void __launch_bounds__(128) k0_fused_matmul(
// CHECK-NEXT:     const unsigned char* __restrict__ in0,
// CHECK-NEXT:     const signed char* __restrict__ in1,
// CHECK:        auto epilogue = [&](const int acc_raw, const int bz, const int m, const int n) {
// CHECK:          float e0_0 = ((float)acc);
// CHECK:          float e1_0 = __fmul_rn(e0_0, x0);
// CHECK:          float e2_0 = __fadd_rn(e1_0, x1);
// CHECK:          float e4_0 = (e2_0 / e3_0);
// CHECK-NEXT:     float e5_0 = rintf(e4_0);
// CHECK:          signed char e7_0 = ((signed char)e6_0);
// The operands as 16-bit pairs along K: the f16 kernel's copies and ldmatrix fragments.
// CHECK:        const unsigned short* __restrict__ A = ((const unsigned short*)in0) + (0);
// CHECK-NEXT:   const unsigned short* __restrict__ B = ((const unsigned short*)in1) + (0);
// CHECK:        int acc[1][4][4];
// CHECK:        optc_mma_u8s8(acc[mi][ni], a[0][mi], b[0][ni]);
// CHECK:        epilogue(acc[mi][ni][q], bz, m, n);

// CHECK:      extern "C" __global__ void __launch_bounds__({{[0-9]+}}) k1_fused_conv(
// CHECK:        __shared__ unsigned int As[BK][BM + 1];
// CHECK:        c[i][j] += a[i] * b[j];
// CHECK:        const int acc = (int)c[i][j];

func.func @main(%x: tensor<64x256xui8>, %w: tensor<256x256xi8>, %s: tensor<256xf32>, %b: tensor<256xf32>,
                %i: tensor<1x8x8x24xi8>, %k: tensor<16x3x3x24xi8>) -> (tensor<64x256xi8>, tensor<1x6x6x16xi32>) {
  %y = fused.matmul %x, %w extras(%s, %b : tensor<256xf32>, tensor<256xf32>) {transpose_b = 1 : i64} : (tensor<64x256xui8>, tensor<256x256xi8>) -> tensor<64x256xi8> {
  ^bb0(%acc: tensor<64x256xi32>, %sc: tensor<256xf32>, %bb: tensor<256xf32>):
    %f = graph.cast %acc : tensor<64x256xi32> -> tensor<64x256xf32>
    %d = graph.mul %f, %sc : (tensor<64x256xf32>, tensor<256xf32>) -> tensor<64x256xf32>
    %a = graph.add %d, %bb : (tensor<64x256xf32>, tensor<256xf32>) -> tensor<64x256xf32>
    %sy = graph.constant dense<0.5> : tensor<f32>
    %q0 = graph.div %a, %sy : (tensor<64x256xf32>, tensor<f32>) -> tensor<64x256xf32>
    %q1 = graph.round %q0 : tensor<64x256xf32>
    %q2 = graph.clip %q1 {min = -128.0 : f32, max = 127.0 : f32} : tensor<64x256xf32>
    %q = graph.cast %q2 : tensor<64x256xf32> -> tensor<64x256xi8>
    fused.yield %q : tensor<64x256xi8>
  }
  %c = fused.conv %i, %k {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x8x8x24xi8>, tensor<16x3x3x24xi8>) -> tensor<1x6x6x16xi32> {
  ^bb0(%acc: tensor<1x6x6x16xi32>):
    fused.yield %acc : tensor<1x6x6x16xi32>
  }
  func.return %y, %c : tensor<64x256xi8>, tensor<1x6x6x16xi32>
}
