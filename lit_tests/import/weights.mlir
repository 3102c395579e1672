// RUN: python %S/inputs/models.py weights %t.onnx
// RUN: optc %t.onnx | filecheck %s
// Initializers become `graph.weight` handles into the ONNX file, never dense literals;
// small ones (a bias of 4 values) and Constant nodes stay inline as `graph.constant`.
// Inputs and outputs keep their ONNX names.

// CHECK:      builtin.module attributes {optc.onnx_nodes = 4 : i64, optc.weights = "{{.*}}.onnx"}
// CHECK-NEXT:   func.func @main(%[[X:.*]]: tensor<1x3x8x8xf32> {onnx.name = "x"}) -> (tensor<1x4x8x8xf32> {onnx.name = "y"})
// CHECK-NOT:    graph.constant {{.*}} tensor<4x3x3x3xf32>
// CHECK-DAG:    %[[W:.*]] = graph.weight "conv.weight" : tensor<4x3x3x3xf32>
// CHECK-DAG:    %[[B:.*]] = graph.constant dense<{{.*}}> : tensor<4x1x1xf32>
// CHECK:        %[[C:.*]] = graph.conv %[[X]], %[[W]]
// CHECK:        %[[A:.*]] = graph.add %[[C]], %[[B]]
// CHECK:        %[[K:.*]] = graph.constant dense<5.000000e-01> : tensor<f32>
// CHECK:        %[[Y:.*]] = graph.mul %[[A]], %[[K]]
// CHECK:        func.return %[[Y]] : tensor<1x4x8x8xf32>
