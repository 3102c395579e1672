// RUN: optc %s -p graph-fold-constants | filecheck %s
// RUN: optc %s -p 'graph-fold-constants{max-elements=4}' | filecheck %s --check-prefix=SMALL
// RUN: optc %s -p 'graph-fold-constants{max-growth=16}' | filecheck %s --check-prefix=GROWTH
// Ops whose operands are known run at compile time and become constants (big results
// become weights); shape-only ops fold whatever their operand; a where with a one-valued
// constant condition is its branch. tests/test_pass_fold_constants.py runs every function
// here before and after the pass.

// The shape arithmetic exporters leave: Shape -> Gather -> Range, and Concat of shapes.
// CHECK-LABEL: func.func @shape_guards
// CHECK-NEXT:    %[[R:.*]] = graph.constant dense<[0, 1, 2]> : tensor<3xi64>
// CHECK-NEXT:    %[[C:.*]] = graph.constant dense<[3, 4, 3, 4]> : tensor<4xi64>
// CHECK-NEXT:    func.return %[[R]], %[[C]]
func.func @shape_guards(%x: tensor<3x4xf32>) -> (tensor<3xi64>, tensor<4xi64>) {
  %s = graph.shape %x {start = 0 : i64, end = 2 : i64} : tensor<3x4xf32> -> tensor<2xi64>
  %i = graph.constant dense<0> : tensor<i64>
  %n = graph.gather %s, %i {axis = 0 : i64} : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %one = graph.constant dense<1> : tensor<i64>
  %r = graph.range %i, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  %c = graph.concat %s, %s {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
  func.return %r, %c : tensor<3xi64>, tensor<4xi64>
}

// Arithmetic on constants, in the result's element type (bf16 rounds: 1 + 2^-8 is 1 in
// bf16); a 20-element result becomes a weight; an IsNaN guard of a constant folds.
// CHECK-LABEL: func.func @arithmetic
// CHECK-NEXT:    %[[T:.*]] = graph.weight "transpose.{{[0-9a-f]+}}" : tensor<5x4xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<2.000000e+00> : tensor<2xbf16>
// CHECK-NEXT:    %[[N:.*]] = graph.constant dense<[true, false]> : tensor<2xi1>
// CHECK-NEXT:    func.return %[[T]], %[[B]], %[[N]]
func.func @arithmetic() -> (tensor<5x4xf32>, tensor<2xbf16>, tensor<2xi1>) {
  %c = graph.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0, 9.0], [10.0, 11.0, 12.0, 13.0, 14.0], [15.0, 16.0, 17.0, 18.0, 19.0]]> : tensor<4x5xf32>
  %t = graph.transpose %c {perm = array<i64: 1, 0>} : tensor<4x5xf32> -> tensor<5x4xf32>
  %h = graph.constant dense<1.00390625> : tensor<2xbf16>
  %b = graph.add %h, %h : (tensor<2xbf16>, tensor<2xbf16>) -> tensor<2xbf16>
  %z = graph.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %q = graph.div %z, %z : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %n = graph.is_nan %q : tensor<2xf32> -> tensor<2xi1>
  func.return %t, %b, %n : tensor<5x4xf32>, tensor<2xbf16>, tensor<2xi1>
}

// where(true, y, x) is y broadcast to the result; where(false, y, x) is x.
// CHECK-LABEL: func.func @where_guards
// CHECK-NEXT:    %[[E:.*]] = graph.expand %y : tensor<4xf32> -> tensor<3x4xf32>
// CHECK-NEXT:    func.return %[[E]], %x
// CHECK-NOT:     graph.where
func.func @where_guards(%x: tensor<3x4xf32>, %y: tensor<4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>) {
  %t = graph.constant dense<true> : tensor<1xi1>
  %f = graph.constant dense<false> : tensor<3x1xi1>
  %a = graph.where %t, %y, %x : (tensor<1xi1>, tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  %b = graph.where %f, %y, %x : (tensor<3x1xi1>, tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  func.return %a, %b : tensor<3x4xf32>, tensor<3x4xf32>
}

// Anything that reads an unknown value's contents stays, and so does a where whose
// condition is known but not one value.
// CHECK-LABEL: func.func @unknown
// CHECK-NEXT:    graph.constant dense<[true, false, true, false]>
// CHECK-NEXT:    graph.relu %x
// CHECK-NEXT:    graph.is_nan %x
// CHECK-NEXT:    graph.where
// CHECK-NEXT:    func.return
func.func @unknown(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi1>, tensor<4xf32>) {
  %c = graph.constant dense<[true, false, true, false]> : tensor<4xi1>
  %r = graph.relu %x : tensor<4xf32>
  %n = graph.is_nan %x : tensor<4xf32> -> tensor<4xi1>
  %w = graph.where %c, %x, %r : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %r, %n, %w : tensor<4xf32>, tensor<4xi1>, tensor<4xf32>
}

// max-elements bounds what a fold may materialise.
// CHECK-LABEL: func.func @sizes
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<[4.000000e+00, 5.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %[[F:.*]] = graph.constant dense<7.000000e+00> : tensor<2x3xf32>
// CHECK-NEXT:    func.return %[[S]], %[[F]]
// SMALL-LABEL: func.func @sizes
// SMALL-NEXT:    graph.constant dense<[4.000000e+00, 5.000000e+00]> : tensor<2xf32>
// SMALL-NEXT:    graph.constant_of_shape {value = 7.000000e+00 : f32} : tensor<2x3xf32>
func.func @sizes() -> (tensor<2xf32>, tensor<2x3xf32>) {
  %c = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %three = graph.constant dense<3.0> : tensor<f32>
  %s = graph.add %c, %three : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %f = graph.constant_of_shape {value = 7.0 : f32} : tensor<2x3xf32>
  func.return %s, %f : tensor<2xf32>, tensor<2x3xf32>
}

// A gemm's `beta * c` with c known is computed once: c becomes the scaled copy (here
// 20 values, so a new weight) and beta 1; nothing is left to multiply c per element.
// Gemms sharing c with the same beta share the stored copy; beta 0 drops c.
// CHECK-LABEL: func.func @gemm_beta
// CHECK-NEXT:    %[[C:.*]] = graph.weight "[[W:mul\.[0-9a-f]+]]" : tensor<20xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.gemm %a, %b, %[[C]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32,
// CHECK-NEXT:    %[[C2:.*]] = graph.weight "[[W]]" : tensor<20xf32>
// CHECK-NEXT:    %[[Z:.*]] = graph.gemm %a, %b, %[[C2]] {alpha = 2.000000e+00 : f32, beta = 1.000000e+00 : f32,
// CHECK-NEXT:    %[[N:.*]] = graph.gemm %a, %b {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32,
// CHECK-NEXT:    func.return %[[Y]], %[[Z]], %[[N]]
// CHECK-NOT:     graph.mul
func.func @gemm_beta(%a: tensor<3x4xf32>, %b: tensor<4x20xf32>) -> (tensor<3x20xf32>, tensor<3x20xf32>, tensor<3x20xf32>) {
  %c = graph.constant dense<[-2.00, -1.75, -1.50, -1.25, -1.00, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, 1.00, 1.25, 1.50, 1.75, 2.00, 2.25, 2.50, 2.75]> : tensor<20xf32>
  %y = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 0.5 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x20xf32>, tensor<20xf32>) -> tensor<3x20xf32>
  %z = graph.gemm %a, %b, %c {alpha = 2.0 : f32, beta = 0.5 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x20xf32>, tensor<20xf32>) -> tensor<3x20xf32>
  %n = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 0.0 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x20xf32>, tensor<20xf32>) -> tensor<3x20xf32>
  func.return %y, %z, %n : tensor<3x20xf32>, tensor<3x20xf32>, tensor<3x20xf32>
}

// A computed c stays scaled by the gemm: that multiply needs the input.
// CHECK-LABEL: func.func @gemm_computed_c
// CHECK-NEXT:    graph.relu %c
// CHECK-NEXT:    graph.gemm {{.*}} beta = 5.000000e-01 : f32
func.func @gemm_computed_c(%a: tensor<3x4xf32>, %b: tensor<4x2xf32>, %c: tensor<2xf32>) -> tensor<3x2xf32> {
  %r = graph.relu %c : tensor<2xf32>
  %y = graph.gemm %a, %b, %r {alpha = 1.0 : f32, beta = 0.5 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// max-growth keeps a broadcast of a constant a broadcast: 4 values expanded to 8x4 store
// 28 more elements than they read (by default they fold into a weight).
// CHECK-LABEL: func.func @broadcast
// CHECK-NEXT:    %[[E:.*]] = graph.weight "expand.{{[0-9a-f]+}}" : tensor<8x4xf32>
// CHECK-NEXT:    func.return %[[E]]
// GROWTH-LABEL: func.func @broadcast
// GROWTH-NEXT:    graph.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]>
// GROWTH-NEXT:    graph.expand
func.func @broadcast() -> tensor<8x4xf32> {
  %v = graph.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %e = graph.expand %v : tensor<4xf32> -> tensor<8x4xf32>
  func.return %e : tensor<8x4xf32>
}
