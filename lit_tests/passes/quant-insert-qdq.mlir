// RUN: optc %s -p graph-dce --precision int8 --calibration-data %S/inputs/quant-insert-qdq.npz --calibration-method minmax --calibration-cache %t.json > /dev/null
// RUN: optc %s -p 'quant-insert-qdq{cache="%t.json"}' | filecheck %s
// RUN: filecheck %s --input-file %t.json --check-prefix=CACHE
// The first line calibrates (the cache: each quantized value's amax), the second inserts
// the Q/DQ pairs with those scales.
//
// The 32->16 product runs in int8: its activation input gets quantize -> dequantize (per
// tensor, i8, scale amax/127), its constant weight becomes i8 (per output channel: the
// rhs's last axis) read through a per-axis dequantize. Its result and the other operand of
// the residual add are quantized too. The 32->8 product (N < 16) stays float and reads %x
// itself: only quantized readers see the dequantized value.
// CHECK-LABEL: func.func @main
// CHECK-NEXT:    %[[SX:.*]] = graph.constant dense<{{.*}}> : tensor<f32>
// CHECK-NEXT:    %[[QX:.*]] = quant.quantize %x scale(%[[SX]] : tensor<f32>) : tensor<2x32xf32> -> tensor<2x32xi8>
// CHECK-NEXT:    %[[DX:.*]] = quant.dequantize %[[QX]] scale(%[[SX]] : tensor<f32>) : tensor<2x32xi8> -> tensor<2x32xf32>
// CHECK-NEXT:    %[[SR:.*]] = graph.constant dense<{{.*}}> : tensor<f32>
// CHECK-NEXT:    %[[QR:.*]] = quant.quantize %r scale(%[[SR]] : tensor<f32>) : tensor<2x16xf32> -> tensor<2x16xi8>
// CHECK-NEXT:    %[[DR:.*]] = quant.dequantize %[[QR]] scale(%[[SR]] : tensor<f32>) : tensor<2x16xi8> -> tensor<2x16xf32>
// CHECK-NOT:     tensor<32x16xf32>
// CHECK:         %[[WQ:.*]] = graph.constant dense<127> : tensor<32x16xi8>
// CHECK-NEXT:    %[[WS:.*]] = graph.constant dense<0.00393700786> : tensor<16xf32>
// CHECK-NEXT:    %[[W:.*]] = quant.dequantize %[[WQ]] scale(%[[WS]] : tensor<16xf32>) {axis = 1 : i64} : tensor<32x16xi8> -> tensor<32x16xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[DX]], %[[W]] : (tensor<2x32xf32>, tensor<32x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:    %[[SY:.*]] = graph.constant dense<{{.*}}> : tensor<f32>
// CHECK-NEXT:    %[[QY:.*]] = quant.quantize %[[Y]] scale(%[[SY]] : tensor<f32>)
// CHECK-NEXT:    %[[DY:.*]] = quant.dequantize %[[QY]] scale(%[[SY]] : tensor<f32>)
// CHECK-NEXT:    %[[S:.*]] = graph.add %[[DY]], %[[DR]]
// CHECK-NEXT:    %[[W8:.*]] = graph.constant dense<2.500000e-01> : tensor<32x8xf32>
// CHECK-NEXT:    %[[Z:.*]] = graph.matmul %x, %[[W8]]
// CHECK-NEXT:    func.return %[[S]], %[[Z]]
// CACHE:       "version": 1,
// CACHE-NEXT:  "method": "minmax",
// CACHE:       "samples": 4,
// CACHE:       "amax": {
// CACHE-NEXT:   "input:x": {{[0-9.]+}},
// CACHE-NEXT:   "1:graph.matmul:0": {{[0-9.]+}},
// CACHE-NEXT:   "input:r": {{[0-9.]+}}
// CACHE-NEXT:  }
func.func @main(%x: tensor<2x32xf32> {onnx.name = "x"}, %r: tensor<2x16xf32> {onnx.name = "r"}) -> (tensor<2x16xf32>, tensor<2x8xf32>) {
  %w = graph.constant dense<0.5> : tensor<32x16xf32>
  %y = graph.matmul %x, %w : (tensor<2x32xf32>, tensor<32x16xf32>) -> tensor<2x16xf32>
  %s = graph.add %y, %r : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  %w8 = graph.constant dense<0.25> : tensor<32x8xf32>
  %z = graph.matmul %x, %w8 : (tensor<2x32xf32>, tensor<32x8xf32>) -> tensor<2x8xf32>
  func.return %s, %z : tensor<2x16xf32>, tensor<2x8xf32>
}
