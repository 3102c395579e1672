// RUN: optc %s --compile-to graph | filecheck %s --check-prefix=GRAPH
// RUN: optc %s -p 'graph-dce,graph' | filecheck %s --check-prefix=GRAPH
// RUN: optc %s -p default | filecheck %s --check-prefix=FUSED
// RUN: optc %s --compile-to fused | filecheck %s --check-prefix=FUSED
// RUN: optc %s | filecheck %s --check-prefix=NONE
// RUN: optc %s --compile-to kernel | filecheck %s --check-prefix=KERNEL
// RUN: optc %s --compile-to quant | filecheck %s --check-prefix=FUSED
// RUN: not optc %s --compile-to cubin 2>&1 | filecheck %s --check-prefix=LEVEL
// RUN: not optc %s -p default --compile-to graph 2>&1 | filecheck %s --check-prefix=BOTH
// Named pipelines expand to their passes; --compile-to names a level (the quant level's
// passes leave a model without quant ops as the fused level has it).

// GRAPH-LABEL: func.func @main
// GRAPH-NEXT:    %[[R:.*]] = graph.relu
// GRAPH-NEXT:    func.return %[[R]]
// FUSED-LABEL: func.func @main
// FUSED-NEXT:    %[[F:.*]] = fused.elementwise
// FUSED:           graph.relu
// FUSED:         func.return %[[F]]
// NONE:          graph.add
// KERNEL:      kernel.func @k0_fused_elementwise({{.*}} attributes {launch = #kernel.launch<
// KERNEL:      func.func @main({{.*}} attributes {kernel.arena = {bytes = 256 : i64
// KERNEL-NEXT:   kernel.launch @k0_fused_elementwise(%{{.*}}) {arena_offsets = array<i64: 0>}
// LEVEL: optc: error: unknown level 'cubin' (levels: graph, fused, quant, kernel)
// BOTH: optc: error: give either -p or --compile-to, not both
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %dead = graph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = graph.relu %x : tensor<4xf32>
  func.return %r : tensor<4xf32>
}
