// RUN: optc %s -p graph-dce | filecheck %s
// Unused ops disappear, chains of them in one sweep; used ones stay.

// CHECK-LABEL: func.func @main
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK-NEXT: %[[R:.*]] = graph.relu %{{.*}} : tensor<4xf32>
  // CHECK-NEXT: func.return %[[R]]
  // CHECK-NOT: graph.
  %r = graph.relu %x : tensor<4xf32>
  %dead1 = graph.relu %x : tensor<4xf32>
  %dead2 = graph.add %dead1, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %c = graph.constant dense<1.0> : tensor<4xf32>
  func.return %r : tensor<4xf32>
}
