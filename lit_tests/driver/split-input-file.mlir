// RUN: optc %s --split-input-file -p default | filecheck %s
// Each chunk of the file (separated by a line of five dashes) is parsed, compiled and
// printed on its own.

// CHECK:      func.func @first
// CHECK-NOT:    graph.add
// CHECK:      {{/}}/ -----
// CHECK:      func.func @second
// CHECK:        graph.relu
func.func @first(%x: tensor<4xf32>) -> tensor<4xf32> {
  %dead = graph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %x : tensor<4xf32>
}

// -----

func.func @second(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.relu %x : tensor<4xf32>
  func.return %r : tensor<4xf32>
}
