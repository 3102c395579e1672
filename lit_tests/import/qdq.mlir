// RUN: python %S/inputs/models.py qdq_conv %t.onnx
// RUN: optc %t.onnx | filecheck %s
// RUN: optc %t.onnx --compile-to quant | filecheck %s --check-prefix=QUANT
// A QDQ model imports into the quant dialect: QuantizeLinear and DequantizeLinear become
// quant.quantize and quant.dequantize with their scales and zero points as operands; the
// int8 weight stays an i8 weight, dequantized per output channel (axis 0) at run time, not
// folded into an f32 weight. At the quant level the activation's zero point (128) keeps the
// conv float (integer contractions are symmetric): the quantize and dequantize ops become
// kernels, the output quantize joins the conv's epilogue, and no quant op is left.

// CHECK:       %[[XS:.*]] = graph.constant dense<2.000000e-02> : tensor<f32>
// CHECK:       %[[XZ:.*]] = graph.constant dense<128> : tensor<ui8>
// CHECK:       %[[WQ:.*]] = graph.weight "w_q" : tensor<4x3x3x3xi8>
// CHECK:       %[[WS:.*]] = graph.constant dense<[1.000000e-02, 2.000000e-02, 3.000000e-02, 4.000000e-02]> : tensor<4xf32>
// CHECK:       %[[Q:.*]] = quant.quantize %{{.*}} scale(%[[XS]] : tensor<f32>) zero_point(%[[XZ]] : tensor<ui8>) : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xui8>
// CHECK:       %[[X:.*]] = quant.dequantize %[[Q]] scale(%[[XS]] : tensor<f32>) zero_point(%[[XZ]] : tensor<ui8>) : tensor<1x3x8x8xui8> -> tensor<1x3x8x8xf32>
// CHECK:       %[[W:.*]] = quant.dequantize %[[WQ]] scale(%[[WS]] : tensor<4xf32>) {axis = 0 : i64} : tensor<4x3x3x3xi8> -> tensor<4x3x3x3xf32>
// CHECK:       %[[C:.*]] = graph.conv %[[X]], %[[W]]
// CHECK:       %[[YQ:.*]] = quant.quantize %[[C]] scale(%{{.*}} : tensor<f32>) zero_point(%{{.*}} : tensor<ui8>) : tensor<1x4x8x8xf32> -> tensor<1x4x8x8xui8>
// CHECK:       %[[Y:.*]] = quant.dequantize %[[YQ]]
// CHECK:       func.return %[[Y]] : tensor<1x4x8x8xf32>

// QUANT:       %[[WQ:.*]] = graph.weight "w_q" : tensor<4x3x3x3xi8>
// QUANT:       fused.elementwise(%{{.*}}) : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xui8>
// QUANT:       fused.elementwise(%{{.*}}) : (tensor<1x3x8x8xui8>) -> tensor<1x3x8x8xf32>
// QUANT:       fused.elementwise(%[[WQ]], %{{.*}}) : (tensor<4x3x3x3xi8>, tensor<4x1x1x1xf32>) -> tensor<4x3x3x3xf32>
// QUANT:       fused.conv {{.*}} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xui8>
// QUANT:       fused.elementwise(%{{.*}}) : (tensor<1x4x8x8xui8>) -> tensor<1x4x8x8xf32>
// QUANT-NOT:   quant.
