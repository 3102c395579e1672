// RUN: optc %s -p graph-dce,graph-dce --print-ir-after-all 2>&1 >/dev/null | filecheck %s
// RUN: optc %s -p default --time-passes 2>&1 >/dev/null | filecheck %s --check-prefix=TIME
// The IR after every pass goes to stderr (the result stays on stdout); --time-passes
// prints one line per pass.

// CHECK:      // -----// IR Dump After graph-dce //----- //
// CHECK:        graph.relu
// CHECK-NOT:    graph.add
// CHECK:      // -----// IR Dump After graph-dce //----- //
// TIME: pass graph-dce: {{[0-9.]+}} ms
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %dead = graph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = graph.relu %x : tensor<4xf32>
  func.return %r : tensor<4xf32>
}
