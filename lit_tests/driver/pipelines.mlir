// RUN: optc %s -p default | filecheck %s
// RUN: optc %s --compile-to graph | filecheck %s
// RUN: optc %s -p 'graph-dce,default' | filecheck %s
// RUN: optc %s | filecheck %s --check-prefix=NONE
// RUN: not optc %s --compile-to fused 2>&1 | filecheck %s --check-prefix=FUSED
// RUN: not optc %s --compile-to cubin 2>&1 | filecheck %s --check-prefix=LEVEL
// RUN: not optc %s -p default --compile-to graph 2>&1 | filecheck %s --check-prefix=BOTH
// Named pipelines expand to their passes; --compile-to names a level, and the levels that
// do not exist yet say so.

// CHECK-LABEL: func.func @main
// CHECK-NEXT:    %[[R:.*]] = graph.relu
// CHECK-NEXT:    func.return %[[R]]
// NONE:          graph.add
// FUSED: optc: error: level 'fused' does not exist yet; optc compiles to: graph
// LEVEL: optc: error: unknown level 'cubin' (levels: graph, fused, quant, kernel)
// BOTH: optc: error: give either -p or --compile-to, not both
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %dead = graph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = graph.relu %x : tensor<4xf32>
  func.return %r : tensor<4xf32>
}
