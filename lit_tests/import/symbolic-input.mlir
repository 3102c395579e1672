// RUN: python %S/inputs/models.py symbolic %t.onnx
// RUN: not optc %t.onnx 2>&1 | filecheck %s
// RUN: not optc %t.onnx --shape x=2x3x5 2>&1 | filecheck %s --check-prefix=FIXED
// RUN: not optc %t.onnx --shape y=2 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: optc %t.onnx --shape x=2x3x4 | filecheck %s --check-prefix=OK
// RUN: not optc %t.onnx --shape x=2x3x4 --shape x=1x3x4 2>&1 | filecheck %s --check-prefix=TWICE
// RUN: not optc %t.onnx --shape x=-2x3x4 2>&1 | filecheck %s --check-prefix=NEGATIVE
// RUN: not optc %t.onnx --shape x=100000000000x3x4 2>&1 | filecheck %s --check-prefix=HUGE
// A symbolic dimension needs --shape; the error says how to give it. A --shape is
// given once per input, with sizes that are not negative and that fit a GPU.

// CHECK: optc: error: input 'x' has symbolic dimensions [N, 3, 4]; fix them with --shape x=Nx3x4
// FIXED: optc: error: --shape x: dimension 2 is fixed to 4 by the model, got 5
// UNKNOWN: optc: error: --shape names unknown input(s) y; the model's inputs are x
// OK: func.func @main(%{{.*}}: tensor<2x3x4xf32> {onnx.name = "x"}) -> (tensor<2x3x4xf32> {onnx.name = "y"})
// TWICE: optc: error: --shape names input 'x' twice (2x3x4 and 1x3x4); give it once
// NEGATIVE: optc: error: --shape 'x=-2x3x4': dimensions must be sizes (0 or more), not negative
// HUGE: optc: error: input 'x' of shape 100000000000x3x4 would take 4.47e+03 GiB; optc accepts inputs up to 256 GiB (more than any GPU holds)
