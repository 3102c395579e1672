// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p outline-kernels,configure-kernels | filecheck %s --check-prefix=LAUNCH
// A row maximum compared with the row's elements (x == max(|x|)): a full-shape result of a
// reduction, computed per element in a write pass after the max, |x| recomputed there.

// LAUNCH: kernel.func @k0_fused_reduction
// LAUNCH-SAME: tile = {cache = 1, rows_per_block = 2, threads_per_row = 16, vector = 4}
// The write pass recomputes |x| rather than reading x back, so the register cache that
// the tile allows holds nothing anyone reads: it is not declared.
// CHECK:      k0_fused_reduction(
// CHECK-NOT:    xs[
// CHECK:        // pass 0: acc
// CHECK-NOT:    xs[
// CHECK:        const float res = (float)(acc0);
// CHECK:        // pass 1: write
// CHECK:        float p0 = fabsf(a0);
// CHECK:        bool q0 = (p0 == res);
// CHECK-NOT:    xs[
func.func @main(%x: tensor<16x64xf32>) -> tensor<16x64xi1> {
  %y = fused.reduction (%x) : (tensor<16x64xf32>) -> tensor<16x64xi1> {
  ^bb0(%xa: tensor<16x64xf32>):
    %a = graph.abs %xa : tensor<16x64xf32>
    %m = graph.reduce_max %a {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<16x64xf32> -> tensor<16x1xf32>
    %q = graph.equal %a, %m : (tensor<16x64xf32>, tensor<16x1xf32>) -> tensor<16x64xi1>
    fused.yield %q : tensor<16x64xi1>
  }
  func.return %y : tensor<16x64xi1>
}
