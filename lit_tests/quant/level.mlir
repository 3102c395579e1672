// RUN: optc %s --compile-to quant | filecheck %s
// RUN: optc %s --compile-to kernel -t cuda | filecheck %s --check-prefix=KERNEL
// The quant level: the graph ops around quant ops fuse, then the quantize and dequantize
// ops fold into the kernels next to them (quant-fold-qdq). The conv's input is float, so
// the conv stays float (TensorRT's rule: both operands must be dequantized), and its int8
// weight is dequantized by a kernel of its own; the output quantize ends the conv's
// epilogue, the dequantize starts the sigmoid's kernel. No quant op is left, and every
// kernel has a CUDA generator.

// CHECK-LABEL: func.func @main
// CHECK:       %[[WQ:.*]] = graph.constant dense<-3> : tensor<8x4x3x3xi8>
// CHECK:       %[[W:.*]] = fused.elementwise(%[[WQ]], %{{.*}}) : (tensor<8x4x3x3xi8>, tensor<8x1x1x1xf32>) -> tensor<8x4x3x3xf32>
// CHECK:       %[[C:.*]] = fused.conv %x, %[[W]] {{.*}} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x8x8xui8>
// CHECK:         graph.relu
// CHECK:         graph.round
// CHECK:         fused.yield %{{.*}} : tensor<1x8x8x8xui8>
// CHECK:       fused.elementwise(%[[C]]) : (tensor<1x8x8x8xui8>) -> tensor<1x8x8x8xf32>
// CHECK:         graph.sigmoid
// CHECK-NOT:   quant.
// KERNEL: __global__ void {{.*}}k0_fused_elementwise(
// KERNEL: __global__ void {{.*}}k1_fused_conv(
// KERNEL: __global__ void {{.*}}k2_fused_elementwise(
func.func @main(%x: tensor<1x4x8x8xf32>) -> tensor<1x8x8x8xf32> {
  %wq = graph.constant dense<-3> : tensor<8x4x3x3xi8>
  %ws = graph.constant dense<[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]> : tensor<8xf32>
  %s = graph.constant dense<0.05> : tensor<f32>
  %z = graph.constant dense<3> : tensor<ui8>
  %w = quant.dequantize %wq scale(%ws : tensor<8xf32>) {axis = 0 : i64} : tensor<8x4x3x3xi8> -> tensor<8x4x3x3xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x8x8xf32>
  %r = graph.relu %c : tensor<1x8x8x8xf32>
  %q = quant.quantize %r scale(%s : tensor<f32>) zero_point(%z : tensor<ui8>) : tensor<1x8x8x8xf32> -> tensor<1x8x8x8xui8>
  %d = quant.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<ui8>) : tensor<1x8x8x8xui8> -> tensor<1x8x8x8xf32>
  %y = graph.sigmoid %d : tensor<1x8x8x8xf32>
  func.return %y : tensor<1x8x8x8xf32>
}
