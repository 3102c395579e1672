// RUN: optc %s --fusion-report 2>&1 >/dev/null | filecheck %s
// The report counts kernels: constants, weights and free views are not launches.

// CHECK:      fusion report: 3 kernels
// CHECK-NEXT:   graph.relu  2
// CHECK-NEXT:   graph.add   1
func.func @main(%x: tensor<4xf32>) -> tensor<2x2xf32> {
  %c = graph.constant dense<1.0> : tensor<4xf32>
  %a = graph.add %x, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = graph.relu %a : tensor<4xf32>
  %s = graph.relu %r : tensor<4xf32>
  %v = graph.reshape %s : tensor<4xf32> -> tensor<2x2xf32>
  func.return %v : tensor<2x2xf32>
}
