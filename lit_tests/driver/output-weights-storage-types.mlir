// RUN: rm -rf %t && mkdir -p %t
// RUN: python %S/../import/inputs/models.py storage_weights %t/model.onnx
// RUN: optc %t/model.onnx -o %t/model.mlir
// RUN: filecheck %s --input-file %t/model.mlir
// RUN: cd %t && optc model.mlir | filecheck %s --check-prefix=REREAD
// RUN: cd %t && optc-run model.mlir -p '' --output from_mlir.npz | filecheck %s --check-prefix=OUTPUTS
// RUN: cd %t && optc-run model.onnx -p '' --output from_onnx.npz > /dev/null
// RUN: cd %t && python -c "import numpy as np; from dialects.weights import from_npz_arrays as f; a, b = (f(dict(np.load(p))) for p in ('from_mlir.npz', 'from_onnx.npz')); print(*(f'{n} {a[n].dtype} same={a[n].tobytes() == b[n].tobytes()}' for n in a))" | filecheck %s --check-prefix=SAME
// Weights of the storage-only types (float8, int4, ...) go to FILE.weights.npz as their
// bytes with their dtypes named beside them, since numpy's files cannot name these types,
// and come back with the same bits: an initializer, and a value a cast folds at import.

// CHECK: builtin.module attributes {{{.*}}optc.weights = "model.weights.npz"}
// CHECK: graph.weight "table" : tensor<16x4xf8E4M3FN>
// CHECK: graph.weight "w8.{{[0-9a-f]+}}" : tensor<16x4xf8E5M2>
// REREAD: graph.weight "table" : tensor<16x4xf8E4M3FN>
// OUTPUTS:      table  float8_e4m3fn[16, 4]
// OUTPUTS-NEXT: w8     float8_e5m2[16, 4]
// SAME: table float8_e4m3fn same=True w8 float8_e5m2 same=True
