// RUN: optc %s -p outline-kernels | filecheck %s
// Each kernel of @main (here a fused group and a lone transpose) moves into its own
// kernel.func and is launched in order; constants, weights and free reshapes stay.

// CHECK:      kernel.func @k0_fused_elementwise(%[[A:.*]]: tensor<2x4xf32>, %[[C:.*]]: tensor<4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:   %[[E:.*]] = fused.elementwise(%[[A]], %[[C]])
// CHECK:        kernel.return %[[E]] : tensor<2x4xf32>
// CHECK:      kernel.func @k1_graph_transpose(%{{.*}}: tensor<2x4xf32>) -> tensor<4x2xf32> {
// CHECK-NEXT:   graph.transpose
// CHECK-NEXT:   kernel.return
// CHECK:      func.func @main(%[[X:.*]]: tensor<2x4xf32>) -> tensor<8xf32> {
// CHECK-NEXT:   %[[K:.*]] = graph.constant
// CHECK-NEXT:   %[[L0:.*]] = kernel.launch @k0_fused_elementwise(%[[X]], %[[K]]) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:   %[[L1:.*]] = kernel.launch @k1_graph_transpose(%[[L0]]) : (tensor<2x4xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:   %[[R:.*]] = graph.reshape %[[L1]]
// CHECK-NEXT:   func.return %[[R]]
// CHECK-NOT:  fused.elementwise
func.func @main(%x: tensor<2x4xf32>) -> tensor<8xf32> {
  %c = graph.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %e = fused.elementwise (%x, %c) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32> {
  ^bb0(%a: tensor<2x4xf32>, %b: tensor<4xf32>):
    %s = graph.add %a, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %r = graph.relu %s : tensor<2x4xf32>
    fused.yield %r : tensor<2x4xf32>
  }
  %t = graph.transpose %e {perm = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
  %v = graph.reshape %t : tensor<4x2xf32> -> tensor<8xf32>
  func.return %v : tensor<8xf32>
}
