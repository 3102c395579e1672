// RUN: python -c "import numpy as np; r = np.arange(20, dtype=np.float32); np.savez('%t.weights.npz', a=r, b=r, c=r + 1)"
// RUN: sed 's|WEIGHTS_FILE|%t.weights.npz|' %s > %t.mlir
// RUN: optc %t.mlir -p graph-cse | filecheck %s
// RUN: optc %t.mlir -p 'graph-cse{weights-by-content=false}' | filecheck %s --check-prefix=NAMES
// Identical computations merge (same op, operands, properties and types); constants merge
// when their bytes are equal, weights when they name the same array or, by default, hold
// the same bytes (weights a and b below; c differs). tests/test_pass_cse.py runs every
// function here before and after the pass.

builtin.module attributes {optc.weights = "WEIGHTS_FILE"} {

// CHECK-LABEL: func.func @duplicates
// CHECK-NEXT:    %[[ONE:.*]] = graph.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    %[[PZ:.*]] = graph.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[NZ:.*]] = graph.constant dense<-0.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[A:.*]] = graph.add %x, %[[ONE]]
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %[[A]] {perm = array<i64: 1, 0>}
// CHECK-NEXT:    %[[P:.*]] = graph.add %x, %[[PZ]]
// CHECK-NEXT:    %[[N:.*]] = graph.add %x, %[[NZ]]
// CHECK-NEXT:    %[[L1:.*]] = graph.leaky_relu %x {alpha = 0.000000e+00 : f32}
// CHECK-NEXT:    %[[L2:.*]] = graph.leaky_relu %x {alpha = -0.000000e+00 : f32}
// CHECK-NEXT:    func.return %[[T]], %[[T]], %[[P]], %[[N]], %[[L1]], %[[L2]]
func.func @duplicates(%x: tensor<3x4xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>) {
  %one = graph.constant dense<1.0> : tensor<4xf32>
  %one_again = graph.constant dense<[1.0, 1.0, 1.0, 1.0]> : tensor<4xf32>
  %pz = graph.constant dense<0.0> : tensor<f32>
  %nz = graph.constant dense<-0.0> : tensor<f32>
  %a = graph.add %x, %one : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  %b = graph.add %x, %one_again : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  %ta = graph.transpose %a {perm = array<i64: 1, 0>} : tensor<3x4xf32> -> tensor<4x3xf32>
  %tb = graph.transpose %b {perm = array<i64: 1, 0>} : tensor<3x4xf32> -> tensor<4x3xf32>
  %p = graph.add %x, %pz : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
  %n = graph.add %x, %nz : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
  %l1 = graph.leaky_relu %x {alpha = 0.0 : f32} : tensor<3x4xf32>
  %l2 = graph.leaky_relu %x {alpha = -0.0 : f32} : tensor<3x4xf32>
  func.return %ta, %tb, %p, %n, %l1, %l2 : tensor<4x3xf32>, tensor<4x3xf32>, tensor<3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>
}

// CHECK-LABEL: func.func @weights
// CHECK-NEXT:    %[[WA:.*]] = graph.weight "a"
// CHECK-NEXT:    %[[WC:.*]] = graph.weight "c"
// CHECK-NEXT:    %[[YA:.*]] = graph.add %x, %[[WA]]
// CHECK-NEXT:    %[[YC:.*]] = graph.add %x, %[[WC]]
// CHECK-NEXT:    func.return %[[YA]], %[[YA]], %[[YA]], %[[YC]]
// NAMES-LABEL: func.func @weights
// NAMES-NEXT:    %[[WA:.*]] = graph.weight "a"
// NAMES-NEXT:    %[[WB:.*]] = graph.weight "b"
// NAMES-NEXT:    %[[WC:.*]] = graph.weight "c"
// NAMES-NEXT:    %[[YA:.*]] = graph.add %x, %[[WA]]
// NAMES-NEXT:    %[[YB:.*]] = graph.add %x, %[[WB]]
// NAMES-NEXT:    %[[YC:.*]] = graph.add %x, %[[WC]]
// NAMES-NEXT:    func.return %[[YA]], %[[YA]], %[[YB]], %[[YC]]
func.func @weights(%x: tensor<2x20xf32>) -> (tensor<2x20xf32>, tensor<2x20xf32>, tensor<2x20xf32>, tensor<2x20xf32>) {
  %a = graph.weight "a" : tensor<20xf32>
  %a_again = graph.weight "a" : tensor<20xf32>
  %b = graph.weight "b" : tensor<20xf32>
  %c = graph.weight "c" : tensor<20xf32>
  %ya = graph.add %x, %a : (tensor<2x20xf32>, tensor<20xf32>) -> tensor<2x20xf32>
  %ya2 = graph.add %x, %a_again : (tensor<2x20xf32>, tensor<20xf32>) -> tensor<2x20xf32>
  %yb = graph.add %x, %b : (tensor<2x20xf32>, tensor<20xf32>) -> tensor<2x20xf32>
  %yc = graph.add %x, %c : (tensor<2x20xf32>, tensor<20xf32>) -> tensor<2x20xf32>
  func.return %ya, %ya2, %yb, %yc : tensor<2x20xf32>, tensor<2x20xf32>, tensor<2x20xf32>, tensor<2x20xf32>
}

}
