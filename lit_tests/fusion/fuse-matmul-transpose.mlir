// RUN: optc %s -p fuse-matmul-transpose | filecheck %s
// RUN: optc %s -p fuse-epilogue,fuse-matmul-transpose | filecheck %s --check-prefix=GEMM
// A fused.matmul reads an operand transposed in its last two axes itself (transpose_a for
// lhs, transpose_b for rhs); the transpose goes when nothing else reads it.

// x · xᵀ: rhs is read as [N, K]; x is read twice, the transpose goes.
// CHECK-LABEL: func.func @gram
// CHECK-NOT:     graph.transpose
// CHECK:         fused.matmul %x, %x {transpose_b = 1 : i64} : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x3xf32> {
// CHECK-NOT:     graph.transpose
func.func @gram(%x: tensor<3x8xf32>) -> tensor<3x3xf32> {
  %t = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<3x8xf32> -> tensor<8x3xf32>
  %y = fused.matmul %x, %t {transpose_b = 0 : i64} : (tensor<3x8xf32>, tensor<8x3xf32>) -> tensor<3x3xf32> {
  ^bb0(%acc: tensor<3x3xf32>):
    fused.yield %acc : tensor<3x3xf32>
  }
  func.return %y : tensor<3x3xf32>
}

// aᵀ · b on batched operands (batch axes stay): lhs is read as [..., K, M].
// CHECK-LABEL: func.func @lhs_batched
// CHECK-NOT:     graph.transpose
// CHECK:         fused.matmul %a, %b {transpose_a = 1 : i64, transpose_b = 0 : i64} : (tensor<2x3x8x4xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32> {
func.func @lhs_batched(%a: tensor<2x3x8x4xf32>, %b: tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32> {
  %t = graph.transpose %a {perm = array<i64: 0, 1, 3, 2>} : tensor<2x3x8x4xf32> -> tensor<2x3x4x8xf32>
  %y = fused.matmul %t, %b {transpose_b = 0 : i64} : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32> {
  ^bb0(%acc: tensor<2x3x4x5xf32>):
    fused.yield %acc : tensor<2x3x4x5xf32>
  }
  func.return %y : tensor<2x3x4x5xf32>
}

// A transpose of an rhs already read transposed toggles the flag off; the epilogue stays.
// CHECK-LABEL: func.func @rhs_toggles_off
// CHECK-NOT:     graph.transpose
// CHECK:         fused.matmul %x, %w {transpose_b = 0 : i64} : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:    ^{{.*}}(%acc: tensor<2x4xf32>):
// CHECK-NEXT:      %[[R:.*]] = graph.relu %acc
// CHECK-NEXT:      fused.yield %[[R]]
func.func @rhs_toggles_off(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> tensor<2x4xf32> {
  %t = graph.transpose %w {perm = array<i64: 1, 0>} : tensor<8x4xf32> -> tensor<4x8xf32>
  %y = fused.matmul %x, %t {transpose_b = 1 : i64} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32> {
  ^bb0(%acc: tensor<2x4xf32>):
    %r = graph.relu %acc : tensor<2x4xf32>
    fused.yield %r : tensor<2x4xf32>
  }
  func.return %y : tensor<2x4xf32>
}

// One transpose read by three operands, and a chain of two that toggles twice.
// CHECK-LABEL: func.func @shared_and_chained
// CHECK-NOT:     graph.transpose
// CHECK:         fused.matmul %x, %x {transpose_a = 1 : i64, transpose_b = 0 : i64} : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
// CHECK:         fused.matmul %x, %x {transpose_b = 1 : i64} : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x8xf32> {
// CHECK-NOT:     graph.transpose
func.func @shared_and_chained(%x: tensor<8x4xf32>) -> (tensor<4x4xf32>, tensor<8x8xf32>) {
  %t = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<8x4xf32> -> tensor<4x8xf32>
  %y = fused.matmul %t, %x {transpose_b = 0 : i64} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%acc: tensor<4x4xf32>):
    fused.yield %acc : tensor<4x4xf32>
  }
  %tt = graph.transpose %t {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  %z = fused.matmul %tt, %t {transpose_b = 0 : i64} : (tensor<8x4xf32>, tensor<4x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%acc: tensor<8x8xf32>):
    fused.yield %acc : tensor<8x8xf32>
  }
  func.return %y, %z : tensor<4x4xf32>, tensor<8x8xf32>
}

// A transpose read elsewhere stays for its other reader (here the epilogue's extra); the
// product reads around it.
// CHECK-LABEL: func.func @read_elsewhere
// CHECK:         %[[T:.*]] = graph.transpose %x
// CHECK-NEXT:    fused.matmul %x, %w extras(%[[T]] : tensor<4x4xf32>) {transpose_a = 1 : i64, transpose_b = 0 : i64}
func.func @read_elsewhere(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %t = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<4x4xf32> -> tensor<4x4xf32>
  %y = fused.matmul %t, %w extras(%t : tensor<4x4xf32>) {transpose_b = 0 : i64} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%acc: tensor<4x4xf32>, %r: tensor<4x4xf32>):
    %s = graph.add %acc, %r : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    fused.yield %s : tensor<4x4xf32>
  }
  func.return %y : tensor<4x4xf32>
}

// A transpose that moves a batch axis stays: the kernel walks batches with fixed strides.
// CHECK-LABEL: func.func @batch_axes_move
// CHECK:         %[[T:.*]] = graph.transpose %k {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    fused.matmul %q, %[[T]] {transpose_b = 0 : i64}
func.func @batch_axes_move(%q: tensor<1x2x4x8xf32>, %k: tensor<1x4x2x8xf32>) -> tensor<1x2x4x4xf32> {
  %t = graph.transpose %k {perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x8xf32> -> tensor<1x2x8x4xf32>
  %y = fused.matmul %q, %t {transpose_b = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32> {
  ^bb0(%acc: tensor<1x2x4x4xf32>):
    fused.yield %acc : tensor<1x2x4x4xf32>
  }
  func.return %y : tensor<1x2x4x4xf32>
}

// Gemm's trans_a on a computed a: the transpose fuse-epilogue puts before the kernel goes.
// GEMM-LABEL: func.func @gemm_trans_a
// GEMM-NOT:     graph.transpose
// GEMM:         fused.matmul %a, %b {transpose_a = 1 : i64, transpose_b = 1 : i64} : (tensor<8x2xf32>, tensor<4x8xf32>) -> tensor<2x4xf32> {
// GEMM-NOT:     graph.transpose
func.func @gemm_trans_a(%a: tensor<8x2xf32>, %b: tensor<4x8xf32>) -> tensor<2x4xf32> {
  %y = graph.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<8x2xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
