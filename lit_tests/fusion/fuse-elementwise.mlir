// RUN: optc %s -p fuse-elementwise | filecheck %s
// RUN: optc %s -p 'fuse-elementwise{views=false}' | filecheck %s --check-prefix=NOVIEW
// RUN: optc %s -p 'fuse-elementwise{recompute_limit=0}' | filecheck %s --check-prefix=NOREC
// Elementwise ops form maximal schedulable groups, each one fused.elementwise.

// A chain with fan-out is one kernel. %a, which the matmul also reads, is yielded; the
// group stands before the matmul. The splat constant becomes a literal; the other
// constant (like a weight) stays an operand.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    %bias = graph.constant dense<[
// CHECK-NEXT:    %[[A:[0-9]+]], %[[O:[0-9]+]] = fused.elementwise(%x, %bias) : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
// CHECK-NEXT:    ^{{.*}}(%[[X:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8xf32>):
// CHECK-NEXT:      %[[IA:.*]] = graph.add %[[X]], %[[B]]
// CHECK-NEXT:      %[[R:.*]] = graph.relu %[[IA]]
// CHECK-NEXT:      %[[C:.*]] = graph.constant dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT:      %[[H:.*]] = graph.mul %[[R]], %[[C]]
// CHECK-NEXT:      %[[S:.*]] = graph.sigmoid %[[IA]]
// CHECK-NEXT:      %[[IO:.*]] = graph.mul %[[H]], %[[S]]
// CHECK-NEXT:      fused.yield %[[IA]], %[[IO]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %[[A]], %w
// CHECK-NEXT:    func.return %[[O]], %[[M]]
func.func @chain(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %bias = graph.constant dense<[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]> : tensor<8xf32>
  %a = graph.add %x, %bias : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %m = graph.matmul %a, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %r = graph.relu %a : tensor<4x8xf32>
  %c = graph.constant dense<0.5> : tensor<f32>
  %h = graph.mul %r, %c : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %s = graph.sigmoid %a : tensor<4x8xf32>
  %o = graph.mul %h, %s : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %o, %m : tensor<4x8xf32>, tensor<4x8xf32>
}

// The path exp -> matmul -> add would make {exp, add} non-convex: two kernels.
// CHECK-LABEL: func.func @not_convex
// CHECK-NEXT:    %[[E:.*]] = fused.elementwise(%x)
// CHECK:           graph.exp
// CHECK:         %[[M:.*]] = graph.matmul %[[E]], %w
// CHECK-NEXT:    fused.elementwise(%[[E]], %[[M]])
// CHECK-NEXT:    ^{{.*}}
// CHECK-NEXT:      graph.add
// CHECK-NEXT:      graph.neg
func.func @not_convex(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %a = graph.exp %x : tensor<4x8xf32>
  %m = graph.matmul %a, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %d = graph.add %a, %m : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %e = graph.neg %d : tensor<4x8xf32>
  func.return %e : tensor<4x8xf32>
}

// A free view between two ops of a group joins it (where, clip and the i1 condition too);
// the view at the group's edge stays outside. Without views: two kernels.
// CHECK-LABEL: func.func @views
// CHECK-NEXT:    %[[G:.*]] = fused.elementwise(%x, %y) : (tensor<2x3x4xf32>, tensor<6x4xi1>) -> tensor<6x4xf32> {
// CHECK:           graph.abs
// CHECK-NEXT:      graph.reshape
// CHECK-NEXT:      graph.constant
// CHECK-NEXT:      graph.where
// CHECK-NEXT:      graph.clip
// CHECK-NEXT:      fused.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    graph.reshape %[[G]] : tensor<6x4xf32> -> tensor<24xf32>
// NOVIEW-LABEL: func.func @views
// NOVIEW-NEXT:    %[[A:.*]] = fused.elementwise(%x)
// NOVIEW:         %[[V:.*]] = graph.reshape %[[A]]
// NOVIEW-NEXT:    fused.elementwise(%y, %[[V]])
func.func @views(%x: tensor<2x3x4xf32>, %y: tensor<6x4xi1>) -> tensor<24xf32> {
  %a = graph.abs %x : tensor<2x3x4xf32>
  %v = graph.reshape %a : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %z = graph.constant dense<0.0> : tensor<f32>
  %s = graph.where %y, %v, %z : (tensor<6x4xi1>, tensor<6x4xf32>, tensor<f32>) -> tensor<6x4xf32>
  %k = graph.clip %s {min = 0.0 : f32, max = 6.0 : f32} : tensor<6x4xf32>
  %f = graph.reshape %k : tensor<6x4xf32> -> tensor<24xf32>
  func.return %f : tensor<24xf32>
}

// A cheap op that only existing kernels read is recomputed inside their bodies instead of
// being a kernel; with recompute_limit=0 it is a kernel of its own.
// CHECK-LABEL: func.func @recompute_into_kernels
// CHECK-NOT:     fused.elementwise
// CHECK:         fused.reduction(%x)
// CHECK:           graph.constant dense<2.000000e+00>
// CHECK-NEXT:      graph.mul
// CHECK-NEXT:      graph.softmax
// CHECK:         fused.reduction(%x)
// CHECK:           graph.constant dense<2.000000e+00>
// CHECK-NEXT:      graph.mul
// CHECK-NEXT:      graph.log_softmax
// CHECK-NOT:     fused.elementwise
// CHECK-LABEL: func.func @recompute_into_epilogue
// CHECK-NEXT:    fused.matmul %x, %w extras(%r : tensor<4x8xf32>)
// CHECK-NEXT:    ^{{.*}}(%[[ACC:.*]]: tensor<4x8xf32>, %[[RES:.*]]: tensor<4x8xf32>):
// CHECK-NEXT:      %[[N:.*]] = graph.neg %[[RES]]
// CHECK-NEXT:      graph.add %[[ACC]], %[[N]]
// NOREC-LABEL: func.func @recompute_into_kernels
// NOREC-NEXT:    %[[Y:.*]] = fused.elementwise(%x)
// NOREC:         fused.reduction(%[[Y]])
// NOREC:         fused.reduction(%[[Y]])
func.func @recompute_into_kernels(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c = graph.constant dense<2.0> : tensor<f32>
  %y = graph.mul %x, %c : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %a = fused.reduction (%y) : (tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%in: tensor<4x8xf32>):
    %p = graph.softmax %in {axis = 1 : i64} : tensor<4x8xf32>
    fused.yield %p : tensor<4x8xf32>
  }
  %b = fused.reduction (%y) : (tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%in: tensor<4x8xf32>):
    %q = graph.log_softmax %in {axis = 1 : i64} : tensor<4x8xf32>
    fused.yield %q : tensor<4x8xf32>
  }
  func.return %a, %b : tensor<4x8xf32>, tensor<4x8xf32>
}

func.func @recompute_into_epilogue(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %r: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %n = graph.neg %r : tensor<4x8xf32>
  %m = fused.matmul %x, %w extras(%n : tensor<4x8xf32>) {transpose_b = 0 : i64} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%acc: tensor<4x8xf32>, %res: tensor<4x8xf32>):
    %s = graph.add %acc, %res : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    fused.yield %s : tensor<4x8xf32>
  }
  func.return %m : tensor<4x8xf32>
}

// An op a matmul reads as an operand (not into a body) is not recomputed; no elementwise
// op at all: nothing changes.
// CHECK-LABEL: func.func @operand_of_product
// CHECK-NEXT:    %[[N:.*]] = fused.elementwise(%x)
// CHECK:         fused.matmul %[[N]], %w
// CHECK-LABEL: func.func @none
// CHECK-NEXT:    graph.matmul
// CHECK-NEXT:    func.return
func.func @operand_of_product(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %n = graph.neg %x : tensor<4x8xf32>
  %m = fused.matmul %n, %w {transpose_b = 0 : i64} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%acc: tensor<4x8xf32>):
    fused.yield %acc : tensor<4x8xf32>
  }
  func.return %m : tensor<4x8xf32>
}

func.func @none(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %m = graph.matmul %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  func.return %m : tensor<4x8xf32>
}
