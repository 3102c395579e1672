// RUN: optc %s -p graph-to-nhwc | filecheck %s
// RUN: optc %s -p 'graph-to-nhwc{pools=false}' | filecheck %s --check-prefix=NOPOOLS
// RUN: optc %s -p 'graph-to-nhwc{elementwise=false}' | filecheck %s --check-prefix=NOELEMENTWISE
// RUN: optc %s -p 'graph-to-nhwc{views=false}' | filecheck %s --check-prefix=NOVIEWS
// Convolutions run channels last: one transpose where a value enters the region, one
// where it leaves, none between; weights and per-channel constants are permuted at
// compile time.

// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    %[[IN:.*]] = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : tensor<1x2x4x4xf32> -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %[[W1:.*]] = graph.constant dense<{{\[}}[{{\[}}[1.000000e+00, 2.000000e+00]]], {{\[}}[{{\[}}3.000000e+00, 4.000000e+00]]]]> : tensor<2x1x1x2xf32>
// CHECK-NEXT:    %[[W2:.*]] = graph.constant dense<{{\[}}[{{\[}}[1.000000e+00, -1.000000e+00]]], {{\[}}[{{\[}}5.000000e-01, 2.000000e+00]]]]> : tensor<2x1x1x2xf32>
// CHECK-NEXT:    %[[C1:.*]] = graph.conv %[[IN]], %[[W1]] {{{.*}}layout = "NHWC"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<{{\[}}[{{\[}}[5.000000e-01, -5.000000e-01]]]]> : tensor<1x1x1x2xf32>
// CHECK-NEXT:    %[[A:.*]] = graph.add %[[C1]], %[[B]] : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[A]] : tensor<1x4x4x2xf32>
// CHECK-NEXT:    %[[P:.*]] = graph.max_pool %[[R]] {{{.*}}layout = "NHWC"} : tensor<1x4x4x2xf32> -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    %[[C2:.*]] = graph.conv %[[P]], %[[W2]] {{{.*}}layout = "NHWC"} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    %[[OUT:.*]] = graph.transpose %[[C2]] {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x2x2xf32> -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    func.return %[[OUT]]
// CHECK-NEXT:  }

// NOPOOLS-LABEL: func.func @chain
// NOPOOLS:         %[[R:.*]] = graph.relu %{{.*}} : tensor<1x4x4x2xf32>
// NOPOOLS-NEXT:    %[[T:.*]] = graph.transpose %[[R]] {perm = array<i64: 0, 3, 1, 2>}
// NOPOOLS-NEXT:    %[[P:.*]] = graph.max_pool %[[T]] {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
// NOPOOLS-NEXT:    graph.transpose %[[P]] {perm = array<i64: 0, 2, 3, 1>}

// Without elementwise ops the region leaves before the add and comes back before the pool,
// the transpose moved above it (its one reader was the transpose).
// NOELEMENTWISE-LABEL: func.func @chain
// NOELEMENTWISE:         %[[C1:.*]] = graph.conv %{{.*}} {{{.*}}layout = "NHWC"}
// NOELEMENTWISE-NEXT:    %[[T:.*]] = graph.transpose %[[C1]] {perm = array<i64: 0, 3, 1, 2>}
// NOELEMENTWISE-NEXT:    %[[A:.*]] = graph.add %[[T]], %{{.*}} : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
// NOELEMENTWISE-NEXT:    %[[R:.*]] = graph.relu %[[A]] : tensor<1x2x4x4xf32>
// NOELEMENTWISE-NEXT:    %[[IN:.*]] = graph.transpose %[[R]] {perm = array<i64: 0, 2, 3, 1>}
// NOELEMENTWISE-NEXT:    %[[P:.*]] = graph.max_pool %[[IN]] {{{.*}}layout = "NHWC"} : tensor<1x4x4x2xf32> -> tensor<1x2x2x2xf32>
// NOELEMENTWISE-NEXT:    graph.conv %[[P]]
func.func @chain(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %w1 = graph.constant dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]]]> : tensor<2x2x1x1xf32>
  %w2 = graph.constant dense<[[[[1.0]], [[-1.0]]], [[[0.5]], [[2.0]]]]> : tensor<2x2x1x1xf32>
  %b = graph.constant dense<[[[0.5]], [[-0.5]]]> : tensor<2x1x1xf32>
  %c1 = graph.conv %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %a = graph.add %c1, %b : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %r = graph.relu %a : tensor<1x2x4x4xf32>
  %p = graph.max_pool %r {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %c2 = graph.conv %p, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x2x2xf32>
  func.return %c2 : tensor<1x2x2x2xf32>
}

// A residual add of the region's own input and a concat on the channel axis stay inside;
// the flatten after the global pool only regroups spatial axes: it becomes a reshape of
// the channels-last result, and no transpose is left at the exit.
// CHECK-LABEL: func.func @residual_concat_pool
// CHECK-NEXT:    %[[IN:.*]] = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    %[[W:.*]] = graph.constant
// CHECK-NEXT:    %[[C:.*]] = graph.conv %[[IN]], %[[W]] {{{.*}}layout = "NHWC"}
// CHECK-NEXT:    %[[A:.*]] = graph.add %[[C]], %[[IN]] : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %[[J:.*]] = graph.concat %[[A]], %[[C]] {axis = 3 : i64} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.global_average_pool %[[J]] {layout = "NHWC"} : tensor<1x4x4x4xf32> -> tensor<1x1x1x4xf32>
// CHECK-NEXT:    %[[F:.*]] = graph.reshape %[[G]] : tensor<1x1x1x4xf32> -> tensor<1x4xf32>
// CHECK-NEXT:    func.return %[[F]]

// Without views the global pool's result leaves through one transpose before the flatten.
// NOVIEWS-LABEL: func.func @residual_concat_pool
// NOVIEWS:         %[[G:.*]] = graph.global_average_pool %{{.*}} {layout = "NHWC"} : tensor<1x4x4x4xf32> -> tensor<1x1x1x4xf32>
// NOVIEWS-NEXT:    %[[OUT:.*]] = graph.transpose %[[G]] {perm = array<i64: 0, 3, 1, 2>} : tensor<1x1x1x4xf32> -> tensor<1x4x1x1xf32>
// NOVIEWS-NEXT:    graph.flatten %[[OUT]] {axis = 1 : i64} : tensor<1x4x1x1xf32> -> tensor<1x4xf32>
func.func @residual_concat_pool(%x: tensor<1x2x4x4xf32>) -> tensor<1x4xf32> {
  %w = graph.constant dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]]]> : tensor<2x2x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %a = graph.add %c, %x : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %j = graph.concat %a, %c {axis = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x4x4x4xf32>
  %g = graph.global_average_pool %j : tensor<1x4x4x4xf32> -> tensor<1x4x1x1xf32>
  %f = graph.flatten %g {axis = 1 : i64} : tensor<1x4x1x1xf32> -> tensor<1x4xf32>
  func.return %f : tensor<1x4xf32>
}

// An add of a channels-first value from outside the region would need a transpose of its
// own: it stays, after the region's exit.
// CHECK-LABEL: func.func @outside_operand
// CHECK:         %[[C:.*]] = graph.conv %{{.*}} {{{.*}}layout = "NHWC"}
// CHECK-NEXT:    %[[OUT:.*]] = graph.transpose %[[C]] {perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:    graph.add %[[OUT]], %y : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    func.return
func.func @outside_operand(%x: tensor<1x2x4x4xf32>, %y: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]]]> : tensor<2x2x1x1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %a = graph.add %c, %y : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  func.return %a : tensor<1x2x4x4xf32>
}

// A transpose into the region moves above ops whose only reader it is, when that adds no
// transpose: the input normalisation joins the region, its constant permuted.
// CHECK-LABEL: func.func @normalised_input
// CHECK-NEXT:    %[[IN:.*]] = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    %[[M:.*]] = graph.constant dense<{{\[}}[{{\[}}[1.000000e+00, 2.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.sub %[[IN]], %[[M]] : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %[[W:.*]] = graph.constant
// CHECK-NEXT:    %[[C:.*]] = graph.conv %[[S]], %[[W]] {{{.*}}layout = "NHWC"}
// CHECK-NEXT:    graph.transpose %[[C]] {perm = array<i64: 0, 3, 1, 2>}
func.func @normalised_input(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %m = graph.constant dense<[[[1.0]], [[2.0]]]> : tensor<2x1x1xf32>
  %s = graph.sub %x, %m : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %w = graph.constant dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]]]> : tensor<2x2x1x1xf32>
  %c = graph.conv %s, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  func.return %c : tensor<1x2x4x4xf32>
}

// Without a convolution with a constant weight nothing changes.
// CHECK-LABEL: func.func @unchanged
// CHECK-NEXT:    graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    graph.conv %{{.*}}, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    func.return
func.func @unchanged(%x: tensor<1x2x4x4xf32>, %w: tensor<2x2x1x1xf32>) -> tensor<1x2x2x2xf32> {
  %p = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %c = graph.conv %p, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x2x2xf32>
  func.return %c : tensor<1x2x2x2xf32>
}
