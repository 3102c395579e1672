// RUN: optc %s -p fuse-epilogue | filecheck %s
// RUN: optc %s -p 'fuse-epilogue{activations=false}' | filecheck %s --check-prefix=NOACT
// RUN: optc %s -p 'fuse-epilogue{residual=false}' | filecheck %s --check-prefix=NORES
// RUN: optc %s -p 'fuse-epilogue{views=false}' | filecheck %s --check-prefix=NOVIEWS
// Every matmul, gemm and conv becomes a fused op; what follows it joins the epilogue while legal.

// The matmul's bias comes first in the epilogue, then the activation.
// CHECK-LABEL: func.func @linear_gelu
// CHECK-NEXT:    %[[Y:.*]] = fused.matmul %x, %w extras(%b : tensor<4xf32>) {transpose_b = 0 : i64} : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<2x4xf32>, %[[B:.*]]: tensor<4xf32>):
// CHECK-NEXT:      %[[M:.*]] = graph.add %acc, %[[B]]
// CHECK-NEXT:      %[[G:.*]] = graph.gelu %[[M]]
// CHECK-NEXT:      fused.yield %[[G]] : tensor<2x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]]
// Without activations only the bias (part of the matmul) is in the epilogue.
// NOACT-LABEL: func.func @linear_gelu
// NOACT:         graph.add %acc
// NOACT-NEXT:    fused.yield
// NOACT:         graph.gelu
func.func @linear_gelu(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %m = graph.matmul %x, %w, %b : (tensor<2x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = graph.gelu %m {approximate = "none"} : tensor<2x4xf32>
  func.return %g : tensor<2x4xf32>
}

// The conv's bias is viewed as [1, C, 1, 1] outside (a free view); residual add and relu join.
// CHECK-LABEL: func.func @conv_bias_residual_relu
// CHECK-NEXT:    %[[V:.*]] = graph.reshape %b : tensor<4xf32> -> tensor<1x4x1x1xf32>
// CHECK-NEXT:    %[[Y:.*]] = fused.conv %x, %w extras(%[[V]], %r : tensor<1x4x1x1xf32>, tensor<1x4x4x4xf32>) {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64}
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<1x4x4x4xf32>, %[[B:.*]]: tensor<1x4x1x1xf32>, %[[R:.*]]: tensor<1x4x4x4xf32>):
// CHECK-NEXT:      %[[C:.*]] = graph.add %acc, %[[B]]
// CHECK-NEXT:      %[[S:.*]] = graph.add %[[R]], %[[C]]
// CHECK-NEXT:      %[[Z:.*]] = graph.relu %[[S]]
// CHECK-NEXT:      fused.yield %[[Z]]
// CHECK-NOT:     graph.conv
// NORES-LABEL: func.func @conv_bias_residual_relu
// NORES:         fused.yield
// NORES-NEXT:    }
// NORES-NEXT:    graph.add %r
// NORES-NEXT:    graph.relu
func.func @conv_bias_residual_relu(%x: tensor<1x3x6x6xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>, %r: tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> {
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x6x6xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %s = graph.add %r, %c : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %y = graph.relu %s : tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}

// Gemm in normal form: trans_a transposes a before the kernel, trans_b is transpose_b,
// alpha and beta multiply in the epilogue, c is an extra.
// CHECK-LABEL: func.func @gemm_normal_form
// CHECK-NEXT:    %[[A:.*]] = graph.transpose %a {perm = array<i64: 1, 0>} : tensor<8x2xf32> -> tensor<2x8xf32>
// CHECK-NEXT:    fused.matmul %[[A]], %b extras(%c : tensor<4xf32>) {transpose_b = 1 : i64} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<2x4xf32>, %[[C:.*]]: tensor<4xf32>):
// CHECK-NEXT:      %[[ALPHA:.*]] = graph.constant dense<2.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[P:.*]] = graph.mul %acc, %[[ALPHA]]
// CHECK-NEXT:      %[[BETA:.*]] = graph.constant dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT:      %[[Q:.*]] = graph.mul %[[C]], %[[BETA]]
// CHECK-NEXT:      %[[Y:.*]] = graph.add %[[P]], %[[Q]]
// CHECK-NEXT:      fused.yield %[[Y]]
// CHECK-NOT:     graph.gemm
func.func @gemm_normal_form(%a: tensor<8x2xf32>, %b: tensor<4x8xf32>, %c: tensor<4xf32>) -> tensor<2x4xf32> {
  %y = graph.gemm %a, %b, %c {alpha = 2.0 : f32, beta = 0.5 : f32, trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<8x2xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}

// Attention scores: the scale (a splat constant, moved in as a literal), the mask (an
// extra that broadcasts) and a cast join.
// CHECK-LABEL: func.func @scale_mask_cast
// CHECK-NEXT:    fused.matmul %q, %k extras(%mask : tensor<1x1x4x4xf32>) {{.*}} -> tensor<1x2x4x4xf16> {
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<1x2x4x4xf32>, %[[MASK:.*]]: tensor<1x1x4x4xf32>):
// CHECK-NEXT:      %[[C:.*]] = graph.constant dense<1.250000e-01> : tensor<f32>
// CHECK-NEXT:      %[[T:.*]] = graph.mul %acc, %[[C]]
// CHECK-NEXT:      %[[M:.*]] = graph.add %[[T]], %[[MASK]]
// CHECK-NEXT:      %[[H:.*]] = graph.cast %[[M]] : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf16>
// CHECK-NEXT:      fused.yield %[[H]] : tensor<1x2x4x4xf16>
func.func @scale_mask_cast(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x8x4xf32>, %mask: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf16> {
  %s = graph.matmul %q, %k : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %t = graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %m = graph.add %t, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %h = graph.cast %m : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf16>
  func.return %h : tensor<1x2x4x4xf16>
}

// A head split (reshape, transpose) at the end of the epilogue.
// CHECK-LABEL: func.func @head_split
// CHECK-NEXT:    fused.matmul %x, %w {{.*}} -> tensor<1x2x4x4xf32> {
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<1x4x8xf32>):
// CHECK-NEXT:      %[[R:.*]] = graph.reshape %acc
// CHECK-NEXT:      %[[T:.*]] = graph.transpose %[[R]]
// CHECK-NEXT:      fused.yield %[[T]]
// NOVIEWS-LABEL: func.func @head_split
// NOVIEWS:         fused.yield %acc
// NOVIEWS-NEXT:    }
// NOVIEWS-NEXT:    graph.reshape
// NOVIEWS-NEXT:    graph.transpose
func.func @head_split(%x: tensor<1x4x8xf32>, %w: tensor<8x8xf32>) -> tensor<1x2x4x4xf32> {
  %m = graph.matmul %x, %w : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32>
  %r = graph.reshape %m : tensor<1x4x8xf32> -> tensor<1x4x2x4xf32>
  %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xf32> -> tensor<1x2x4x4xf32>
  func.return %t : tensor<1x2x4x4xf32>
}

// The bare product is read outside: nothing joins, the product is written once.
// CHECK-LABEL: func.func @product_read_elsewhere
// CHECK-NEXT:    %[[M:.*]] = fused.matmul %x, %w
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<2x4xf32>):
// CHECK-NEXT:      fused.yield %acc
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[M]]
// CHECK-NEXT:    func.return %[[R]], %[[M]]
func.func @product_read_elsewhere(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %m = graph.matmul %x, %w : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %m : tensor<2x4xf32>
  func.return %r, %m : tensor<2x4xf32>, tensor<2x4xf32>
}

// A value inside the epilogue that the softmax also reads becomes a second result.
// CHECK-LABEL: func.func @intermediate_yielded
// CHECK:         %[[A:.*]], %[[R:.*]] = fused.matmul %x, %w extras(%b : tensor<4xf32>)
// CHECK:           fused.yield %a, %r : tensor<2x4xf32>, tensor<2x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[N:.*]] = graph.softmax %[[A]]
// CHECK-NEXT:    func.return %[[R]], %[[N]]
func.func @intermediate_yielded(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %m = graph.matmul %x, %w : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %b = graph.constant dense<[1.0, -2.0, 3.0, -4.0]> : tensor<4xf32>
  %a = graph.add %m, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %a : tensor<2x4xf32>
  %n = graph.softmax %a {axis = 1 : i64} : tensor<2x4xf32>
  func.return %r, %n : tensor<2x4xf32>, tensor<2x4xf32>
}

// A transpose whose input is also read elsewhere stays out (both forms would be written).
// CHECK-LABEL: func.func @view_read_elsewhere
// CHECK:           fused.yield %r : tensor<1x4x2x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    graph.transpose
func.func @view_read_elsewhere(%x: tensor<1x4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x4x2x4xf32>) {
  %m = graph.matmul %x, %w : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32>
  %r = graph.reshape %m : tensor<1x4x8xf32> -> tensor<1x4x2x4xf32>
  %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xf32> -> tensor<1x2x4x4xf32>
  func.return %t, %r : tensor<1x2x4x4xf32>, tensor<1x4x2x4xf32>
}

// The add reads the softmax, computed outside from the epilogue: it stays out.
// CHECK-LABEL: func.func @not_convex
// CHECK:           fused.yield %r
// CHECK-NEXT:    }
// CHECK-NEXT:    graph.softmax
// CHECK-NEXT:    graph.add
func.func @not_convex(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> tensor<2x4xf32> {
  %m = graph.matmul %x, %w : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %m : tensor<2x4xf32>
  %n = graph.softmax %r {axis = 1 : i64} : tensor<2x4xf32>
  %s = graph.add %r, %n : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %s : tensor<2x4xf32>
}

// The softmax stood between relu and sigmoid; it moves after the fused op that yields relu.
// CHECK-LABEL: func.func @reader_moves_after
// CHECK-NEXT:    %[[R:.*]], %[[S:.*]] = fused.matmul
// CHECK:           fused.yield %r, %s
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[N:.*]] = graph.softmax %[[R]]
// CHECK-NEXT:    func.return %[[S]], %[[N]]
func.func @reader_moves_after(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %m = graph.matmul %x, %w : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %m : tensor<2x4xf32>
  %n = graph.softmax %r {axis = 1 : i64} : tensor<2x4xf32>
  %s = graph.sigmoid %r : tensor<2x4xf32>
  func.return %s, %n : tensor<2x4xf32>, tensor<2x4xf32>
}

// A vector operand is viewed as a matrix outside; the product is reshaped back inside.
// CHECK-LABEL: func.func @vector_times_matrix
// CHECK-NEXT:    %[[V:.*]] = graph.reshape %v : tensor<8xf32> -> tensor<1x8xf32>
// CHECK-NEXT:    fused.matmul %[[V]], %w {{.*}} : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<1x4xf32>):
// CHECK-NEXT:      %[[M:.*]] = graph.reshape %acc : tensor<1x4xf32> -> tensor<4xf32>
// CHECK-NEXT:      graph.tanh %[[M]]
func.func @vector_times_matrix(%v: tensor<8xf32>, %w: tensor<8x4xf32>) -> tensor<4xf32> {
  %m = graph.matmul %v, %w : (tensor<8xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  %t = graph.tanh %m : tensor<4xf32>
  func.return %t : tensor<4xf32>
}
