// RUN: python %S/inputs/models.py shape_subgraph %t.onnx
// RUN: optc %t.onnx --shape x=2x3x4 | filecheck %s
// With the batch dimension fixed, the exporter's shape computation
// (Shape → Gather → Unsqueeze → Concat) folds at import: only the reshape remains.

// CHECK:      func.func @main(%[[X:.*]]: tensor<2x3x4xf32> {onnx.name = "x"}) -> (tensor<2x12xf32> {onnx.name = "y"})
// CHECK-NEXT:   %[[R:.*]] = graph.reshape %[[X]] : tensor<2x3x4xf32> -> tensor<2x12xf32>
// CHECK-NEXT:   %[[Y:.*]] = graph.relu %[[R]] : tensor<2x12xf32>
// CHECK-NEXT:   func.return %[[Y]]
// CHECK-NOT:  graph.shape
// CHECK-NOT:  graph.gather
// CHECK-NOT:  graph.concat
