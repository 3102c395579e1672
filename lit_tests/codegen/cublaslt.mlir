// RUN: optc %s -t cuda | filecheck %s
// The cublaslt tactic (passes/codegen/library/cublaslt.py): cuBLASLt computes the product,
// then optc's epilogue kernel runs the fused region on it. The kernel takes the kernel's
// pointers, then the product (the start of its workspace); a matmul whose region only
// stores the product has no kernel at all: cuBLASLt writes its result.

kernel.func @k0_fused_matmul(%0: tensor<16x64xf16>, %1: tensor<64x128xf16>, %2: tensor<128xf16>) -> tensor<16x128xf16> attributes {launch = #kernel.launch<tactic = cublaslt, grid = [8, 1, 1], block = [256, 1, 1], shared = 0, tile = {algo = 1}>} {
  %3 = fused.matmul %0, %1 extras(%2 : tensor<128xf16>) {transpose_b = 0 : i64} : (tensor<16x64xf16>, tensor<64x128xf16>) -> tensor<16x128xf16> {
  ^bb0(%acc: tensor<16x128xf16>, %4: tensor<128xf16>):
    %a = graph.add %acc, %4 : (tensor<16x128xf16>, tensor<128xf16>) -> tensor<16x128xf16>
    %g = graph.relu %a : tensor<16x128xf16>
    fused.yield %g : tensor<16x128xf16>
  }
  kernel.return %3 : tensor<16x128xf16>
}
kernel.func @k1_fused_matmul(%0: tensor<16x128xf16>, %1: tensor<128x64xf16>) -> tensor<16x64xf16> attributes {launch = #kernel.launch<tactic = cublaslt, grid = [4, 1, 1], block = [256, 1, 1], shared = 0, tile = {algo = 0}>} {
  %2 = fused.matmul %0, %1 {transpose_b = 0 : i64} : (tensor<16x128xf16>, tensor<128x64xf16>) -> tensor<16x64xf16> {
  ^bb0(%acc: tensor<16x64xf16>):
    fused.yield %acc : tensor<16x64xf16>
  }
  kernel.return %2 : tensor<16x64xf16>
}

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_fused_matmul(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK-NEXT:     const optc_half* __restrict__ in1,
// CHECK-NEXT:     const optc_half* __restrict__ in2,
// CHECK-NEXT:     optc_half* __restrict__ out0,
// CHECK-NEXT:     const optc_half* __restrict__ product)
// The same per-element epilogue as optc's own matmul kernels: bias by column, relu, one rounding.
// CHECK:        auto epilogue = [&](const float acc_raw, const int bz, const int m, const int n) {
// CHECK:          out0[f] = optc_to_half(
// A grid-stride loop over the [16, 128] product, in (batch, m, n) order.
// CHECK:        for (long long f = (long long)blockIdx.x * blockDim.x + threadIdx.x; f < 2048LL; f += (long long)gridDim.x * blockDim.x) {
// CHECK-NEXT:       const int bz = (int)(f / 2048LL);
// CHECK-NEXT:       const int m = (int)((f / 128) % 16);
// CHECK-NEXT:       const int n = (int)(f % 128);
// CHECK-NEXT:       epilogue(optc_widen(product[f]), bz, m, n);
// CHECK-NOT:    k1_fused_matmul
