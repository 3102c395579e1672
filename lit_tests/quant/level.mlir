// RUN: optc %s --compile-to quant | filecheck %s
// RUN: not optc %s --compile-to kernel 2>&1 | filecheck %s --check-prefix=KERNEL
// The quant level is, for now, the fused level's pipeline: the graph ops around quant ops
// fuse (the ReLU into the conv's epilogue, the sigmoid into a group of its own), while the
// quant ops stay as they are, between the fused ops, neither fused nor folded (the int8
// weight is not dequantized at compile time, though it and its scale are constants).
// Lowering to kernels stops at the first quant op: none has a CUDA generator yet.

// CHECK-LABEL: func.func @main
// CHECK:       %[[WQ:.*]] = graph.constant dense<-3> : tensor<8x4x3x3xi8>
// CHECK:       %[[W:.*]] = quant.dequantize %[[WQ]] scale(%{{.*}} : tensor<8xf32>) {axis = 0 : i64} : tensor<8x4x3x3xi8> -> tensor<8x4x3x3xf32>
// CHECK:       %[[C:.*]] = fused.conv %{{.*}}, %[[W]]
// CHECK:         graph.relu
// CHECK-NOT:     quant.
// CHECK:         fused.yield
// CHECK:       %[[Q:.*]] = quant.quantize %[[C]] scale(%{{.*}} : tensor<f32>) zero_point(%{{.*}} : tensor<ui8>) : tensor<1x8x8x8xf32> -> tensor<1x8x8x8xui8>
// CHECK:       %[[D:.*]] = quant.dequantize %[[Q]]
// CHECK:       fused.elementwise(%[[D]])
// CHECK-NOT:     quant.
// CHECK:         graph.sigmoid
// KERNEL: optc: error: @k0_quant_dequantize: 'quant.dequantize' has no CUDA generator, so it cannot run on the GPU
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
