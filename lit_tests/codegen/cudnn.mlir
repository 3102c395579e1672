// RUN: optc %s -t cuda | filecheck %s
// The cudnn tactic (passes/codegen/library/cudnn.py): cuDNN runs the conv as a graph. A
// region its pointwise nodes express (bias, relu) is fused into that graph and cuDNN writes
// the result: no kernel of optc's runs. Any other region (a leaky relu) runs in optc's
// epilogue kernel on the conv, which cuDNN leaves at the start of the kernel's workspace in
// the element type: the kernel's pointers, then the conv; one grid-stride loop over the
// channels-last output, with the epilogue every optc conv kernel prints. Attention has no
// kernel either: cuDNN writes it.

kernel.func @k0_fused_conv(%0: tensor<1x4x4x8xf16>, %1: tensor<8x3x3x8xf16>) -> tensor<1x4x4x8xf16> attributes {launch = #kernel.launch<tactic = cudnn, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {plan = 2}>} {
  %2 = fused.conv %0, %1 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x4x4x8xf16>, tensor<8x3x3x8xf16>) -> tensor<1x4x4x8xf16> {
  ^bb0(%acc: tensor<1x4x4x8xf16>):
    %r = graph.leaky_relu %acc {alpha = 0.1 : f32} : tensor<1x4x4x8xf16>
    fused.yield %r : tensor<1x4x4x8xf16>
  }
  kernel.return %2 : tensor<1x4x4x8xf16>
}
kernel.func @k1_fused_conv(%0: tensor<1x4x4x8xf16>, %1: tensor<8x3x3x8xf16>, %2: tensor<1x1x1x8xf16>) -> tensor<1x4x4x8xf16> attributes {launch = #kernel.launch<tactic = cudnn, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {plan = 0}>} {
  %3 = fused.conv %0, %1 extras(%2 : tensor<1x1x1x8xf16>) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x4x4x8xf16>, tensor<8x3x3x8xf16>) -> tensor<1x4x4x8xf16> {
  ^bb0(%acc: tensor<1x4x4x8xf16>, %b: tensor<1x1x1x8xf16>):
    %t = graph.add %acc, %b : (tensor<1x4x4x8xf16>, tensor<1x1x1x8xf16>) -> tensor<1x4x4x8xf16>
    %r = graph.relu %t : tensor<1x4x4x8xf16>
    fused.yield %r : tensor<1x4x4x8xf16>
  }
  kernel.return %3 : tensor<1x4x4x8xf16>
}
kernel.func @k2_fused_attention(%q: tensor<1x2x16x64xf16>, %k: tensor<1x2x16x64xf16>, %v: tensor<1x2x16x64xf16>) -> tensor<1x16x2x64xf16> attributes {launch = #kernel.launch<tactic = cudnn, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {plan = 1}>} {
  %o = fused.attention %q, %k, %v {scale = 0.125 : f32, causal = 1 : i64, output_layout = "bshd"} : (tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>) -> tensor<1x16x2x64xf16>
  kernel.return %o : tensor<1x16x2x64xf16>
}

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_fused_conv(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK-NEXT:     const optc_half* __restrict__ in1,
// CHECK-NEXT:     optc_half* __restrict__ out0,
// CHECK-NEXT:     const optc_half* __restrict__ product)
// CHECK:        for (long long f = (long long)blockIdx.x * blockDim.x + threadIdx.x; f < 128LL; f += (long long)gridDim.x * blockDim.x) {
// CHECK-NEXT:       const float acc = optc_widen(product[f]);
// CHECK-NEXT:       float v0_0 = (optc_widen(optc_to_half(acc)) >= 0 ? {{.*}} : 0.10000000149011612f * {{.*}});
// CHECK-NEXT:       out0[f] = optc_to_half(v0_0);
// CHECK-NOT:    k1_fused_conv
// CHECK-NOT:    k2_fused_attention
