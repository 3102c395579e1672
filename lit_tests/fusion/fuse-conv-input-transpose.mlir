// RUN: optc %s -p fuse-conv-input-transpose | filecheck %s
// RUN: optc %s -p 'fuse-conv-input-transpose{max-channels=16}' | filecheck %s --check-prefix=WIDE
// A conv with few input channels reads the channels-first input itself: the transpose
// graph-to-nhwc put before it is erased and the conv says `input_layout = "NCHW"`.

// The RGB stem: 3 channels, 3x3, NHWC weight and result.
// CHECK-LABEL: func.func @stem
// CHECK-NOT:     graph.transpose
// CHECK:         %[[Y:.*]] = fused.conv %x, %w extras(%b : tensor<1x1x1x8xf32>) {{{.*}}layout = "NHWC", input_layout = "NCHW"} : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NOT:     graph.transpose
// CHECK:         func.return %[[Y]]
func.func @stem(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<1x1x1x8xf32>) -> tensor<1x8x8x8xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : tensor<1x3x8x8xf32> -> tensor<1x8x8x3xf32>
  %y = fused.conv %t, %w extras(%b : tensor<1x1x1x8xf32>) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32> {
  ^bb0(%acc: tensor<1x8x8x8xf32>, %bb: tensor<1x1x1x8xf32>):
    %s = graph.add %acc, %bb : (tensor<1x8x8x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x8x8x8xf32>
    %r = graph.relu %s : tensor<1x8x8x8xf32>
    fused.yield %r : tensor<1x8x8x8xf32>
  }
  func.return %y : tensor<1x8x8x8xf32>
}

// Two stems on one input (an Inception-like fork), 1-D here: both read it, no transpose left.
// CHECK-LABEL: func.func @fork_1d
// CHECK-NOT:     graph.transpose
// CHECK:         fused.conv %x, %w1 {{{.*}}input_layout = "NCHW"}
// CHECK:         fused.conv %x, %w2 {{{.*}}input_layout = "NCHW"}
func.func @fork_1d(%x: tensor<2x4x9xf32>, %w1: tensor<5x3x4xf32>, %w2: tensor<6x1x4xf32>) -> (tensor<2x4x5xf32>, tensor<2x9x6xf32>) {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x4x9xf32> -> tensor<2x9x4xf32>
  %a = fused.conv %t, %w1 {strides = array<i64: 2>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64, layout = "NHWC"} : (tensor<2x9x4xf32>, tensor<5x3x4xf32>) -> tensor<2x4x5xf32> {
  ^bb0(%acc: tensor<2x4x5xf32>):
    fused.yield %acc : tensor<2x4x5xf32>
  }
  %b = fused.conv %t, %w2 {strides = array<i64: 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64, layout = "NHWC"} : (tensor<2x9x4xf32>, tensor<6x1x4xf32>) -> tensor<2x9x6xf32> {
  ^bb0(%acc: tensor<2x9x6xf32>):
    fused.yield %acc : tensor<2x9x6xf32>
  }
  func.return %a, %b : tensor<2x4x5xf32>, tensor<2x9x6xf32>
}

// 16 input channels: from 8 on, f16 convs take the tensor-core kernel, which reads NHWC
// only, so the transpose stays (unless max-channels says otherwise).
// CHECK-LABEL: func.func @wide
// CHECK:         %[[T:.*]] = graph.transpose %x
// CHECK-NEXT:    fused.conv %[[T]], %w
// CHECK-NOT:     input_layout
// WIDE-LABEL:  func.func @wide
// WIDE-NOT:      graph.transpose
// WIDE:          fused.conv %x, %w {{{.*}}input_layout = "NCHW"}
func.func @wide(%x: tensor<1x16x4x4xf16>, %w: tensor<8x1x1x16xf16>) -> tensor<1x4x4x8xf16> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : tensor<1x16x4x4xf16> -> tensor<1x4x4x16xf16>
  %y = fused.conv %t, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x4x4x16xf16>, tensor<8x1x1x16xf16>) -> tensor<1x4x4x8xf16> {
  ^bb0(%acc: tensor<1x4x4x8xf16>):
    fused.yield %acc : tensor<1x4x4x8xf16>
  }
  func.return %y : tensor<1x4x4x8xf16>
}

// The transposed input has another reader (a pool, its own kernel): it stays a kernel, so
// the conv keeps reading it.
// CHECK-LABEL: func.func @shared
// CHECK:         %[[T:.*]] = graph.transpose %x
// CHECK-NEXT:    fused.conv %[[T]], %w
// CHECK-NOT:     input_layout
// CHECK:         graph.max_pool %[[T]]
func.func @shared(%x: tensor<1x3x4x4xf32>, %w: tensor<4x1x1x3xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x2x2x3xf32>) {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : tensor<1x3x4x4xf32> -> tensor<1x4x4x3xf32>
  %y = fused.conv %t, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x4x4x3xf32>, tensor<4x1x1x3xf32>) -> tensor<1x4x4x4xf32> {
  ^bb0(%acc: tensor<1x4x4x4xf32>):
    fused.yield %acc : tensor<1x4x4x4xf32>
  }
  %p = graph.max_pool %t {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, layout = "NHWC"} : tensor<1x4x4x3xf32> -> tensor<1x2x2x3xf32>
  func.return %y, %p : tensor<1x4x4x4xf32>, tensor<1x2x2x3xf32>
}

// Depthwise (group 3): its direct kernel reads the input in its own layout.
// CHECK-LABEL: func.func @depthwise
// CHECK:         %[[T:.*]] = graph.transpose %x
// CHECK-NEXT:    fused.conv %[[T]], %w
// CHECK-NOT:     input_layout
func.func @depthwise(%x: tensor<1x3x4x4xf32>, %w: tensor<3x3x3x1xf32>) -> tensor<1x2x2x3xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : tensor<1x3x4x4xf32> -> tensor<1x4x4x3xf32>
  %y = fused.conv %t, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 3 : i64, layout = "NHWC"} : (tensor<1x4x4x3xf32>, tensor<3x3x3x1xf32>) -> tensor<1x2x2x3xf32> {
  ^bb0(%acc: tensor<1x2x2x3xf32>):
    fused.yield %acc : tensor<1x2x2x3xf32>
  }
  func.return %y : tensor<1x2x2x3xf32>
}

// The transpose is a conv's extra (a residual), not its input: it stays.
// CHECK-LABEL: func.func @as_extra
// CHECK:         %[[T:.*]] = graph.transpose %x
// CHECK-NEXT:    fused.conv %[[T]], %w extras(%[[T]] : tensor<1x4x4x3xf32>)
// CHECK-NOT:     input_layout
func.func @as_extra(%x: tensor<1x3x4x4xf32>, %w: tensor<3x1x1x3xf32>) -> tensor<1x4x4x3xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : tensor<1x3x4x4xf32> -> tensor<1x4x4x3xf32>
  %y = fused.conv %t, %w extras(%t : tensor<1x4x4x3xf32>) {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x4x4x3xf32>, tensor<3x1x1x3xf32>) -> tensor<1x4x4x3xf32> {
  ^bb0(%acc: tensor<1x4x4x3xf32>, %res: tensor<1x4x4x3xf32>):
    %s = graph.add %acc, %res : (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
    fused.yield %s : tensor<1x4x4x3xf32>
  }
  func.return %y : tensor<1x4x4x3xf32>
}
