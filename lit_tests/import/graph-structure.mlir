// RUN: python %S/inputs/models.py out_of_order %t.sorted.onnx
// RUN: optc %t.sorted.onnx | filecheck %s --check-prefix=SORTED
// RUN: python %S/inputs/models.py cycle %t.cycle.onnx
// RUN: not optc %t.cycle.onnx 2>&1 | filecheck %s --check-prefix=CYCLE
// RUN: python %S/inputs/models.py two_producers %t.twice.onnx
// RUN: not optc %t.twice.onnx 2>&1 | filecheck %s --check-prefix=TWICE
// RUN: python %S/inputs/models.py string_perm %t.perm.onnx
// RUN: not optc %t.perm.onnx 2>&1 | filecheck %s --check-prefix=PERM
// The graph is checked before anything is built, as onnxruntime checks it: nodes listed
// out of order are sorted, a cycle or a value defined twice is an error, and every
// attribute must have the type the op's ONNX schema gives it.

// SORTED:      %[[R:.*]] = graph.relu %{{.*}} : tensor<2x3xf32>
// SORTED-NEXT: %[[E:.*]] = graph.exp %[[R]] : tensor<2x3xf32>
// SORTED-NEXT: %{{.*}} = graph.neg %[[E]] : tensor<2x3xf32>
// CYCLE-NOT: Traceback
// CYCLE: optc: error: the graph has a cycle through Add node 'add': a node's inputs depend on its own outputs
// TWICE-NOT: Traceback
// TWICE: optc: error: Neg node 'neg' defines 'y', which is already defined by Relu node 'relu'
// PERM-NOT: Traceback
// PERM: optc: error: Transpose node 'transpose': attribute 'perm' must be of type INTS, got STRING
