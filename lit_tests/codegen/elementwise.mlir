// RUN: optc %s -p outline-kernels -t cuda | filecheck %s
// A fused pointwise kernel becomes one CUDA function: a pointer per argument, one per
// result, then the element count; each argument is read with broadcasting at the
// output's multi-index ([2,3,4] with [4] reads b[i2], with [3,1] reads c[i1]).

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_fused_elementwise(
// CHECK-NEXT:     const float* __restrict__ in0,
// CHECK-NEXT:     const float* __restrict__ in1,
// CHECK-NEXT:     const float* __restrict__ in2,
// CHECK-NEXT:     float* __restrict__ out0,
// CHECK-NEXT:     long long n)
// Only the index variables some load reads are computed (i0 is not: no operand varies
// along the outer axis without being read whole).
// CHECK-NOT:    long long i0
// CHECK:        long long i1 = (i / 4LL) % 3LL;
// CHECK-NEXT:   long long i2 = i % 4LL;
// CHECK-NEXT:   float a0 = in0[i];
// CHECK-NEXT:   float a1 = in1[i2];
// CHECK-NEXT:   float a2 = in2[i1];
// CHECK:        float v2 = ({{.*}} > 0.0f ? {{.*}} : 0.0f);
// CHECK-NEXT:   out0[i] = v2;
func.func @main(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  %e = fused.elementwise (%x, %b, %c) : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  ^bb0(%xa: tensor<2x3x4xf32>, %ba: tensor<4xf32>, %ca: tensor<3x1xf32>):
    %s = graph.add %xa, %ba : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %m = graph.mul %s, %ca : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %r = graph.relu %m : tensor<2x3x4xf32>
    fused.yield %r : tensor<2x3x4xf32>
  }
  func.return %e : tensor<2x3x4xf32>
}
