// RUN: rm -rf %t && mkdir -p %t
// RUN: python %S/../import/inputs/models.py weights %t/model.onnx
// RUN: optc %t/model.onnx -o %t/model.mlir
// RUN: cd %t && python -c "import numpy as np; np.savez('model.weights.npz', **{'conv.weight': np.zeros(4, np.float32)})"
// RUN: cd %t && not optc model.mlir 2>&1 | filecheck %s
// RUN: cd %t && not optc-run model.mlir --device cpu 2>&1 | filecheck %s --check-prefix=RUNNER
// A weights file whose array does not have the type the IR declares is refused when it
// is bound, before any pass runs: one line naming the file, the weight, the type the IR
// declares and what the file holds (here a conv weight cut to 4 values).

// CHECK: optc: error: weights file '{{.*}}model.weights.npz': weight 'conv.weight' is declared tensor<4x3x3x3xf32> by the IR but holds float32[4]
// CHECK-NOT: Traceback
// RUNNER: optc-run: error: weights file '{{.*}}model.weights.npz': weight 'conv.weight' is declared tensor<4x3x3x3xf32> by the IR but holds float32[4]
// RUNNER-NOT: Traceback
