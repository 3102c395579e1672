// RUN: optc %s -p graph-canonicalize | filecheck %s
// RUN: optc %s -p 'graph-canonicalize{keep-view-ops=true}' | filecheck %s --check-prefix=VIEWS
// RUN: optc %s -p 'graph-canonicalize{signed-zeros=false}' | filecheck %s --check-prefix=NSZ
// RUN: optc %s -p 'graph-canonicalize{identities=false chains=false arithmetic=false keep-view-ops=true}' | filecheck %s --check-prefix=OFF
// No-ops disappear, reshape/transpose chains become one op, views become graph.reshape;
// options turn each group off. tests/test_pass_canonicalize.py runs every function here
// before and after the pass.

// Every op here does nothing: the function returns its argument.
// CHECK-LABEL: func.func @identities
// CHECK-NEXT:    func.return %x, %x, %x, %x, %x, %x, %x, %x, %x, %x
// OFF-LABEL:   func.func @identities
// OFF-COUNT-10:  graph.
// OFF-NEXT:      func.return
func.func @identities(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = graph.identity %x : tensor<2x3xf32>
  %1 = graph.reshape %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = graph.cast %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = graph.expand %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %4 = graph.tile %x {repeats = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %5 = graph.transpose %x {perm = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %6 = graph.slice %x {starts = array<i64: 0, 0>, steps = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %7 = graph.pad %x {pads = array<i64: 0, 0, 0, 0>, mode = "reflect", value = 0.0 : f32} : tensor<2x3xf32> -> tensor<2x3xf32>
  %8 = graph.concat %x {axis = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %9 = graph.split %x {axis = 0 : i64, split = array<i64: 2>} : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// Look-alikes that do something stay as they are.
// CHECK-LABEL: func.func @not_identities
// CHECK-NEXT:    graph.reshape %x : tensor<2x3xf32> -> tensor<3x2xf32>
// CHECK-NEXT:    graph.cast %x : tensor<2x3xf32> -> tensor<2x3xf16>
// CHECK-NEXT:    graph.expand %x : tensor<2x3xf32> -> tensor<4x2x3xf32>
// CHECK-NEXT:    graph.transpose %x {perm = array<i64: 1, 0>}
// CHECK-NEXT:    graph.slice %x {starts = array<i64: 1, 0>, steps = array<i64: -1, 1>}
// CHECK-NEXT:    graph.pad %x {pads = array<i64: 1, 0, -1, 0>
// CHECK-NEXT:    func.return
func.func @not_identities(%x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<2x3xf16>, tensor<4x2x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = graph.reshape %x : tensor<2x3xf32> -> tensor<3x2xf32>
  %1 = graph.cast %x : tensor<2x3xf32> -> tensor<2x3xf16>
  %2 = graph.expand %x : tensor<2x3xf32> -> tensor<4x2x3xf32>
  %3 = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  %4 = graph.slice %x {starts = array<i64: 1, 0>, steps = array<i64: -1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %5 = graph.pad %x {pads = array<i64: 1, 0, -1, 0>, mode = "constant", value = 0.0 : f32} : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return %0, %1, %2, %3, %4, %5 : tensor<3x2xf32>, tensor<2x3xf16>, tensor<4x2x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// A transpose of a transpose is one transpose (perm composed), or nothing; the inner one
// stays while something else uses it.
// CHECK-LABEL: func.func @transpose_pairs
// CHECK-NEXT:    %[[INNER:.*]] = graph.transpose %x {perm = array<i64: 1, 2, 0>}
// CHECK-NEXT:    %[[ONE:.*]] = graph.transpose %x {perm = array<i64: 2, 1, 0>}
// CHECK-NEXT:    func.return %x, %[[ONE]], %[[INNER]]
// OFF-LABEL:   func.func @transpose_pairs
// OFF-COUNT-3:   graph.transpose
func.func @transpose_pairs(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x3x2xf32>, tensor<3x4x2xf32>) {
  %t = graph.transpose %x {perm = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %back = graph.transpose %t {perm = array<i64: 2, 0, 1>} : tensor<3x4x2xf32> -> tensor<2x3x4xf32>
  %rev = graph.transpose %t {perm = array<i64: 1, 0, 2>} : tensor<3x4x2xf32> -> tensor<4x3x2xf32>
  func.return %back, %rev, %t : tensor<2x3x4xf32>, tensor<4x3x2xf32>, tensor<3x4x2xf32>
}

// Chains of view ops are one reshape; a lone flatten/squeeze/unsqueeze becomes a reshape
// unless keep-view-ops=true; a transpose that moves only size-1 dimensions is a reshape.
// CHECK-LABEL: func.func @views
// CHECK-NEXT:    %[[CHAIN:.*]] = graph.reshape %x : tensor<2x3x4xf32> -> tensor<6x1x4xf32>
// CHECK-NEXT:    %[[SQ:.*]] = graph.reshape %y : tensor<1x16x1x64xf32> -> tensor<16x64xf32>
// CHECK-NEXT:    %[[UNIT:.*]] = graph.reshape %y : tensor<1x16x1x64xf32> -> tensor<1x1x16x64xf32>
// CHECK-NEXT:    func.return %[[CHAIN]], %[[SQ]], %[[UNIT]]
// CHECK-NOT:     graph.flatten
// VIEWS-LABEL: func.func @views
// VIEWS-NEXT:    graph.reshape %x : tensor<2x3x4xf32> -> tensor<6x1x4xf32>
// VIEWS-NEXT:    graph.squeeze %y
// VIEWS-NEXT:    graph.reshape %y : tensor<1x16x1x64xf32> -> tensor<1x1x16x64xf32>
func.func @views(%x: tensor<2x3x4xf32>, %y: tensor<1x16x1x64xf32>) -> (tensor<6x1x4xf32>, tensor<16x64xf32>, tensor<1x1x16x64xf32>) {
  %f = graph.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %u = graph.unsqueeze %f {axes = array<i64: 1>} : tensor<6x4xf32> -> tensor<6x1x4xf32>
  %s = graph.squeeze %y {axes = array<i64: 0, 2>} : tensor<1x16x1x64xf32> -> tensor<16x64xf32>
  %t = graph.transpose %y {perm = array<i64: 0, 2, 1, 3>} : tensor<1x16x1x64xf32> -> tensor<1x1x16x64xf32>
  func.return %u, %s, %t : tensor<6x1x4xf32>, tensor<16x64xf32>, tensor<1x1x16x64xf32>
}

// x + (-0.0), x - 0.0, x * 1, 1 * x, x / 1 and integer x + 0 are x. x + 0.0 and
// x - (-0.0) are not (they turn -0.0 into +0.0) unless signed-zeros=false; a constant that
// broadcasts x to a bigger shape, 0 - x and 1 / x are never removed.
// CHECK-LABEL: func.func @arithmetic
// CHECK-NEXT:    %[[NZ:.*]] = graph.constant dense<-0.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    %[[PZ:.*]] = graph.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[ONE:.*]] = graph.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[WIDE:.*]] = graph.constant dense<1.000000e+00> : tensor<2x4xf32>
// CHECK-NEXT:    %[[KEEP:.*]] = graph.add %x, %[[PZ]]
// CHECK-NEXT:    %[[BIG:.*]] = graph.mul %x, %[[WIDE]]
// CHECK-NEXT:    %[[NEG:.*]] = graph.sub %[[PZ]], %x
// CHECK-NEXT:    %[[REC:.*]] = graph.div %[[ONE]], %x
// CHECK-NEXT:    %[[SUBNZ:.*]] = graph.sub %x, %[[NZ]]
// CHECK-NEXT:    func.return %x, %x, %x, %x, %x, %i, %[[KEEP]], %[[BIG]], %[[NEG]], %[[REC]], %[[SUBNZ]]
// NSZ-LABEL:   func.func @arithmetic
// NSZ-NOT:       graph.add
// NSZ:           func.return %x, %x, %x, %x, %x, %i, %x, %{{.*}}, %{{.*}}, %{{.*}}, %x :
func.func @arithmetic(%x: tensor<4xf32>, %i: tensor<4xi32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %nz = graph.constant dense<-0.0> : tensor<4xf32>
  %pz = graph.constant dense<0.0> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %wide = graph.constant dense<1.0> : tensor<2x4xf32>
  %izero = graph.constant dense<0> : tensor<1xi32>
  %0 = graph.add %x, %nz : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = graph.sub %x, %pz : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %2 = graph.mul %x, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %3 = graph.mul %one, %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = graph.div %x, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %5 = graph.add %izero, %i : (tensor<1xi32>, tensor<4xi32>) -> tensor<4xi32>
  %6 = graph.add %x, %pz : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %7 = graph.mul %x, %wide : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %8 = graph.sub %pz, %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %9 = graph.div %one, %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %10 = graph.sub %x, %nz : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
