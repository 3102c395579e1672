// RUN: optc %s -p configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p configure-kernels | filecheck %s --check-prefix=LAUNCH
// Casts through a storage-only type inside a pointwise kernel: the float8 tensor is a
// byte per element (`unsigned char*`, copied by 4-byte vectors here), held as its byte,
// encoded and decoded by the software conversions the kernel carries (guarded, so the
// kernels of one file share one copy). saturate = 0: overflow gives NaN in E4M3FN.

// LAUNCH: kernel.func @k0_fused_elementwise{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>

// CHECK:      #ifndef OPTC_LOW_PRECISION
// CHECK:      __device__ __forceinline__ int optc_lp_round(double x, int nmant, int minexp) {
// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_fused_elementwise(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK-NEXT:     unsigned char* __restrict__ out0,
// CHECK-NEXT:     float* __restrict__ out1)
// CHECK:          const unsigned char v1 = optc_lp_to_f8e4m3fn((double)a0, false);
// CHECK-NEXT:     const float v2 = optc_lp_from_f8e4m3fn(v1);
// CHECK:        reinterpret_cast<unsigned int*>(out0 + base)[0] = reinterpret_cast<unsigned int*>(y0)[0];
builtin.module {
  kernel.func @k0_fused_elementwise(%x: tensor<5x7xf16>) -> (tensor<5x7xf8E4M3FN>, tensor<5x7xf32>) {
    %e:2 = fused.elementwise (%x) : (tensor<5x7xf16>) -> (tensor<5x7xf8E4M3FN>, tensor<5x7xf32>) {
    ^bb0(%xa: tensor<5x7xf16>):
      %q = graph.cast %xa {saturate = 0 : i64} : tensor<5x7xf16> -> tensor<5x7xf8E4M3FN>
      %d = graph.cast %q : tensor<5x7xf8E4M3FN> -> tensor<5x7xf32>
      fused.yield %q, %d : tensor<5x7xf8E4M3FN>, tensor<5x7xf32>
    }
    kernel.return %e#0, %e#1 : tensor<5x7xf8E4M3FN>, tensor<5x7xf32>
  }
  func.func @main(%x: tensor<5x7xf16>) -> (tensor<5x7xf8E4M3FN>, tensor<5x7xf32>) {
    %e:2 = kernel.launch @k0_fused_elementwise(%x) : (tensor<5x7xf16>) -> (tensor<5x7xf8E4M3FN>, tensor<5x7xf32>)
    func.return %e#0, %e#1 : tensor<5x7xf8E4M3FN>, tensor<5x7xf32>
  }
}
