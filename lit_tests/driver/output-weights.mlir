// RUN: rm -rf %t && mkdir -p %t
// RUN: python %S/../import/inputs/models.py weights %t/model.onnx
// RUN: optc %t/model.onnx -p graph-simplify -o %t/model.mlir
// RUN: filecheck %s --input-file %t/model.mlir
// RUN: test -f %t/model.weights.npz
// RUN: cd %t && optc model.mlir -p graph-simplify | filecheck %s --check-prefix=REREAD
// RUN: optc-run %t/model.mlir --onnx %t/model.onnx --compare onnxruntime | filecheck %s --check-prefix=RESULT
// -o writes the IR and, beside it, the weights it names (FILE.weights.npz); the IR
// points at that file by a relative path, so the pair can be moved and read back.

// CHECK: builtin.module attributes {optc.onnx_nodes = {{[0-9]+}} : i64, optc.weights = "model.weights.npz"}
// CHECK: graph.weight "conv.weight" : tensor<4x3x3x3xf32>
// REREAD: builtin.module attributes {optc.onnx_nodes = {{[0-9]+}} : i64, optc.weights = "{{.*}}model.weights.npz"}
// RESULT: y  max abs err {{.*}} ok
// RESULT: PASS: every output matches onnxruntime
