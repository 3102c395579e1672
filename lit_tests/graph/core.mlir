// RUN: optc %s | optc | filecheck %s
// Round trip of constants and weights: the printed form parses back to itself.

func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2xi64>, tensor<4x4xf32>, tensor<3xf32>) {
  // CHECK: %{{.*}} = graph.constant dense<[1, 2]> : tensor<2xi64>
  %c = graph.constant dense<[1, 2]> : tensor<2xi64>
  // CHECK-NEXT: %{{.*}} = graph.weight "fc.weight" : tensor<4x4xf32>
  %w = graph.weight "fc.weight" : tensor<4x4xf32>
  // Non-finite values print as MLIR's hex buffer, which parses back bit for bit.
  // CHECK-NEXT: %{{.*}} = graph.constant dense<"0x000080FF0000C07F0000803F"> : tensor<3xf32>
  %m = graph.constant dense<"0x000080FF0000C07F0000803F"> : tensor<3xf32>
  // CHECK-NEXT: %{{.*}} = graph.identity %{{.*}} : tensor<2x3xf32>
  %i = graph.identity %x : tensor<2x3xf32>
  func.return %i, %c, %w, %m : tensor<2x3xf32>, tensor<2xi64>, tensor<4x4xf32>, tensor<3xf32>
}
