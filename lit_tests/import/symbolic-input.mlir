// RUN: python %S/inputs/models.py symbolic %t.onnx
// RUN: not optc %t.onnx 2>&1 | filecheck %s
// RUN: not optc %t.onnx --shape x=2x3x5 2>&1 | filecheck %s --check-prefix=FIXED
// RUN: not optc %t.onnx --shape y=2 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: optc %t.onnx --shape x=2x3x4 | filecheck %s --check-prefix=OK
// A symbolic dimension needs --shape; the error says how to give it.

// CHECK: optc: error: input 'x' has symbolic dimensions [N, 3, 4]; fix them with --shape x=Nx3x4
// FIXED: optc: error: --shape x: dimension 2 is fixed to 4 by the model, got 5
// UNKNOWN: optc: error: --shape names unknown input(s) y; the model's inputs are x
// OK: func.func @main(%{{.*}}: tensor<2x3x4xf32> {onnx.name = "x"}) -> (tensor<2x3x4xf32> {onnx.name = "y"})
