// RUN: python %S/inputs/models.py minus_one %t.onnx
// RUN: not optc %t.onnx 2>&1 | filecheck %s
// RUN: optc %t.onnx --shape x=1x3x1 | filecheck %s --check-prefix=HINTED
// RUN: optc %t.onnx --shape x=2x3x5 | filecheck %s --check-prefix=OK
// RUN: not optc %t.onnx --shape x=2x4x5 2>&1 | filecheck %s --check-prefix=FIXED
// A dim_value of -1 is a dynamic dimension (onnxruntime reads it so), in inputs, outputs
// and value_info alike: --shape fixes it, the hint's example works as given, and the
// stale -1s (and the 4 value_info claims for r) never become sizes.

// CHECK: optc: error: input 'x' has symbolic dimensions [?, 3, ?]; fix them with --shape x=Nx3xN (e.g. --shape x=1x3x1)
// HINTED: func.func @main(%{{.*}}: tensor<1x3x1xf32> {onnx.name = "x"}) -> (tensor<1x3x1xf32> {onnx.name = "y"})
// OK:      func.func @main(%[[X:.*]]: tensor<2x3x5xf32> {onnx.name = "x"}) -> (tensor<2x3x5xf32> {onnx.name = "y"})
// OK-NEXT:   %[[R:.*]] = graph.relu %[[X]] : tensor<2x3x5xf32>
// OK-NEXT:   %[[Y:.*]] = graph.neg %[[R]] : tensor<2x3x5xf32>
// FIXED: optc: error: --shape x: dimension 1 is fixed to 3 by the model, got 4
