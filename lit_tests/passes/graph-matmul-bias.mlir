// RUN: optc %s -p graph-matmul-bias | filecheck %s
// RUN: optc %s -p 'graph-matmul-bias{to-gemm=false}' | filecheck %s --check-prefix=NOGEMM
// RUN: optc %s -p 'graph-matmul-bias{matmul=false}' | filecheck %s --check-prefix=NOMATMUL
// RUN: optc %s -p 'graph-matmul-bias{gemm=false}' | filecheck %s --check-prefix=NOGEMMC
// A constant added after graph.matmul / graph.gemm becomes the product's bias.

// A 2-D linear layer becomes graph.gemm with c (a matmul with a bias with to-gemm=false).
// CHECK-LABEL: func.func @linear_2d
// CHECK:         %[[B:.*]] = graph.constant dense<[5.000000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.gemm %a, %w, %[[B]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:    func.return %[[Y]]
// NOGEMM-LABEL: func.func @linear_2d
// NOGEMM:         %[[Y:.*]] = graph.matmul %a, %w, %{{.*}} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
// NOGEMM-NEXT:    func.return %[[Y]]
// NOMATMUL-LABEL: func.func @linear_2d
// NOMATMUL:         graph.matmul %a, %w :
// NOMATMUL:         graph.add
func.func @linear_2d(%a: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = graph.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %m = graph.matmul %a, %w : (tensor<3x4xf32>, tensor<4x2xf32>) -> tensor<3x2xf32>
  %v = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %y = graph.add %m, %v : (tensor<3x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// On a batched activation the matmul stays and takes the bias ([1, 1, 2] becomes [2]).
// CHECK-LABEL: func.func @linear_3d
// CHECK:         %[[B:.*]] = graph.constant dense<[5.000000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %x, %w, %[[B]] : (tensor<2x3x4xf32>, tensor<4x2xf32>, tensor<2xf32>) -> tensor<2x3x2xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @linear_3d(%x: tensor<2x3x4xf32>) -> tensor<2x3x2xf32> {
  %w = graph.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x2xf32>) -> tensor<2x3x2xf32>
  %v = graph.constant dense<[[[0.5, -1.0]]]> : tensor<1x1x2xf32>
  %y = graph.add %v, %m : (tensor<1x1x2xf32>, tensor<2x3x2xf32>) -> tensor<2x3x2xf32>
  func.return %y : tensor<2x3x2xf32>
}

// Adds and subtractions in a row collect into one bias.
// CHECK-LABEL: func.func @chain
// CHECK:         %[[B:.*]] = graph.constant dense<[-1.500000e+00, -3.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %x, %w, %[[B]]
// CHECK-NEXT:    func.return %[[Y]]
func.func @chain(%x: tensor<2x3x4xf32>) -> tensor<2x3x2xf32> {
  %w = graph.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x2xf32>) -> tensor<2x3x2xf32>
  %v = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %a = graph.add %m, %v : (tensor<2x3x2xf32>, tensor<2xf32>) -> tensor<2x3x2xf32>
  %u = graph.constant dense<2.0> : tensor<f32>
  %y = graph.sub %a, %u : (tensor<2x3x2xf32>, tensor<f32>) -> tensor<2x3x2xf32>
  func.return %y : tensor<2x3x2xf32>
}

// The weight need not be a constant; only the added vector must be.
// CHECK-LABEL: func.func @activations
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[0.000000e+00, -1.000000e+00, -2.000000e+00]> : tensor<3xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %q, %k, %[[B]]
// CHECK-NEXT:    func.return %[[Y]]
func.func @activations(%q: tensor<2x3x4xf32>, %k: tensor<2x4x3xf32>) -> tensor<2x3x3xf32> {
  %m = graph.matmul %q, %k : (tensor<2x3x4xf32>, tensor<2x4x3xf32>) -> tensor<2x3x3xf32>
  %v = graph.constant dense<[0.0, -1.0, -2.0]> : tensor<3xf32>
  %y = graph.add %m, %v : (tensor<2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x3xf32>
  func.return %y : tensor<2x3x3xf32>
}

// A gemm without c takes the vector as c.
// CHECK-LABEL: func.func @gemm
// CHECK-NEXT:    %[[C:.*]] = graph.constant dense<[5.000000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.gemm %a, %b, %[[C]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 1 : i64}
// CHECK-NEXT:    func.return %[[Y]]
// NOGEMMC-LABEL: func.func @gemm
// NOGEMMC:         graph.gemm %a, %b {
// NOGEMMC:         graph.add
func.func @gemm(%a: tensor<3x4xf32>, %b: tensor<2x4xf32>) -> tensor<3x2xf32> {
  %g = graph.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 1 : i64} : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  %v = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %y = graph.add %v, %g : (tensor<2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// A gemm with a constant c takes beta * c + v, with beta 1.
// CHECK-LABEL: func.func @gemm_with_c
// CHECK-NEXT:    %[[C:.*]] = graph.constant dense<{{\[}}[1.500000e+00, 0.000000e+00], [2.500000e+00, 1.000000e+00], [3.500000e+00, 2.000000e+00]]> : tensor<3x2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.gemm %a, %b, %[[C]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = 0 : i64, trans_b = 0 : i64}
// CHECK-NEXT:    func.return %[[Y]]
func.func @gemm_with_c(%a: tensor<3x4xf32>, %b: tensor<4x2xf32>) -> tensor<3x2xf32> {
  %c = graph.constant dense<[[2.0], [4.0], [6.0]]> : tensor<3x1xf32>
  %g = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 0.5 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<3x1xf32>) -> tensor<3x2xf32>
  %v = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %y = graph.add %g, %v : (tensor<3x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// Not folded: the constant varies along the rows, not the columns.
// CHECK-LABEL: func.func @not_last_axis
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %x, %w :
// CHECK:         graph.add %[[M]], %v
func.func @not_last_axis(%x: tensor<2x3x4xf32>, %w: tensor<4x2xf32>) -> tensor<2x3x2xf32> {
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x2xf32>) -> tensor<2x3x2xf32>
  %v = graph.constant dense<[[1.0], [2.0], [3.0]]> : tensor<3x1xf32>
  %y = graph.add %m, %v : (tensor<2x3x2xf32>, tensor<3x1xf32>) -> tensor<2x3x2xf32>
  func.return %y : tensor<2x3x2xf32>
}

// Not folded: the product without the bias is returned too.
// CHECK-LABEL: func.func @shared_matmul
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %x, %w :
// CHECK:         %[[Y:.*]] = graph.add %[[M]], %v
// CHECK-NEXT:    func.return %[[Y]], %[[M]]
func.func @shared_matmul(%x: tensor<2x3x4xf32>, %w: tensor<4x2xf32>) -> (tensor<2x3x2xf32>, tensor<2x3x2xf32>) {
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x2xf32>) -> tensor<2x3x2xf32>
  %v = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %y = graph.add %m, %v : (tensor<2x3x2xf32>, tensor<2xf32>) -> tensor<2x3x2xf32>
  func.return %y, %m : tensor<2x3x2xf32>, tensor<2x3x2xf32>
}

// Not folded: v - matmul negates the product, which a bias cannot.
// CHECK-LABEL: func.func @constant_minus_matmul
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %x, %w :
// CHECK:         graph.sub %v, %[[M]]
func.func @constant_minus_matmul(%x: tensor<2x3x4xf32>, %w: tensor<4x2xf32>) -> tensor<2x3x2xf32> {
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x2xf32>) -> tensor<2x3x2xf32>
  %v = graph.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %y = graph.sub %v, %m : (tensor<2xf32>, tensor<2x3x2xf32>) -> tensor<2x3x2xf32>
  func.return %y : tensor<2x3x2xf32>
}

// Not folded: the added vector is not a constant.
// CHECK-LABEL: func.func @runtime_bias
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %x, %w :
// CHECK-NEXT:    graph.add %[[M]], %v
func.func @runtime_bias(%x: tensor<2x3x4xf32>, %w: tensor<4x2xf32>, %v: tensor<2xf32>) -> tensor<2x3x2xf32> {
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x2xf32>) -> tensor<2x3x2xf32>
  %y = graph.add %m, %v : (tensor<2x3x2xf32>, tensor<2xf32>) -> tensor<2x3x2xf32>
  func.return %y : tensor<2x3x2xf32>
}

// Not folded: with a vector rhs the result's last axis is the rows; there are no columns.
// CHECK-LABEL: func.func @vector_rhs
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %a, %w :
// CHECK:         graph.add %[[M]], %v
func.func @vector_rhs(%a: tensor<3x4xf32>, %w: tensor<4xf32>) -> tensor<3xf32> {
  %m = graph.matmul %a, %w : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3xf32>
  %v = graph.constant dense<[0.5, -1.0, 2.0]> : tensor<3xf32>
  %y = graph.add %m, %v : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}
