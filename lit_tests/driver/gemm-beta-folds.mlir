// RUN: rm -rf %t && mkdir -p %t
// RUN: python %S/../import/inputs/models.py gemm_beta %t/model.onnx
// RUN: optc %t/model.onnx -p default -o %t/model.mlir
// RUN: filecheck %s --input-file %t/model.mlir
// RUN: cd %t && optc-run model.mlir --onnx model.onnx --compare onnxruntime | filecheck %s --check-prefix=RESULT
// Gemm's `beta * c` depends on the weights alone: graph-fold-constants computes it into a
// new weight (written to model.weights.npz by -o), so the matmul's epilogue only adds it.

// CHECK:      builtin.module attributes {optc.onnx_nodes = 2 : i64, optc.weights = "model.weights.npz"}
// CHECK:        %[[W:.*]] = graph.weight "fc.weight" : tensor<32x16xf32>
// CHECK-NEXT:   %[[C:.*]] = graph.weight "fc.bias.mul.{{[0-9a-f]+}}" : tensor<32xf32>
// CHECK-NEXT:   %{{.*}} = fused.matmul %{{.*}}, %[[W]] extras(%[[C]] : tensor<32xf32>)
// CHECK-NEXT:   ^{{.*}}(%[[ACC:.*]]: tensor<4x32xf32>, %[[E:.*]]: tensor<32xf32>):
// CHECK-NOT:      graph.mul
// CHECK-NEXT:     %[[S:.*]] = graph.add %[[ACC]], %[[E]]
// CHECK-NEXT:     %[[R:.*]] = graph.relu %[[S]]
// CHECK-NEXT:     fused.yield %[[R]]
// RESULT: y  max abs err {{.*}} ok
// RESULT: PASS: every output matches onnxruntime
