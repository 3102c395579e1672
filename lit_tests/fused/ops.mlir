// RUN: optc %s | optc | filecheck %s
// Round trip of every fused op: each is one future kernel holding graph ops.

// CHECK-LABEL: func.func @groups
func.func @groups(%x: tensor<2x8xf32>, %y: tensor<8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  // CHECK:      fused.elementwise(%{{.*}}, %{{.*}}) : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32> {
  // CHECK-NEXT: ^{{.*}}(%[[A:.*]]: tensor<2x8xf32>, %[[B:.*]]: tensor<8xf32>):
  // CHECK-NEXT:   %[[S:.*]] = graph.add %[[A]], %[[B]]
  // CHECK-NEXT:   %[[R:.*]] = graph.relu %[[S]]
  // CHECK-NEXT:   fused.yield %[[R]] : tensor<2x8xf32>
  %e = fused.elementwise (%x, %y) : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32> {
  ^bb0(%a: tensor<2x8xf32>, %b: tensor<8xf32>):
    %s = graph.add %a, %b : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
    %r = graph.relu %s : tensor<2x8xf32>
    fused.yield %r : tensor<2x8xf32>
  }
  // CHECK: fused.reduction(%{{.*}}) : (tensor<2x8xf32>) -> tensor<2x8xf32> {
  // CHECK:   graph.softmax
  %s = fused.reduction (%e) : (tensor<2x8xf32>) -> tensor<2x8xf32> {
  ^bb0(%a: tensor<2x8xf32>):
    %m = graph.softmax %a {axis = 1 : i64} : tensor<2x8xf32>
    fused.yield %m : tensor<2x8xf32>
  }
  func.return %e, %s : tensor<2x8xf32>, tensor<2x8xf32>
}

// CHECK-LABEL: func.func @contractions
func.func @contractions(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>, %i: tensor<1x3x8x8xf32>, %k: tensor<4x3x3x3xf32>) -> (tensor<2x4xf32>, tensor<1x4x6x6xf32>) {
  // CHECK: fused.matmul %{{.*}}, %{{.*}} extras(%{{.*}} : tensor<4xf32>) {transpose_b = 1 : i64} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32> {
  // CHECK-NEXT: ^{{.*}}(%{{.*}}: tensor<2x4xf32>, %{{.*}}: tensor<4xf32>):
  %m = fused.matmul %x, %w extras(%b : tensor<4xf32>) {transpose_b = 1 : i64} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32> {
  ^bb0(%acc: tensor<2x4xf32>, %bias: tensor<4xf32>):
    %0 = graph.add %acc, %bias : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    fused.yield %0 : tensor<2x4xf32>
  }
  // CHECK: fused.conv %{{.*}}, %{{.*}} {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK:   graph.relu
  %c = fused.conv %i, %k {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  ^bb0(%acc: tensor<1x4x6x6xf32>):
    %r = graph.relu %acc : tensor<1x4x6x6xf32>
    fused.yield %r : tensor<1x4x6x6xf32>
  }
  func.return %m, %c : tensor<2x4xf32>, tensor<1x4x6x6xf32>
}

// An NHWC conv reading an NCHW input (the RGB stem after fuse-conv-input-transpose): the
// weight (OHWI) and the accumulator are NHWC.
// CHECK-LABEL: func.func @conv_nchw_input
func.func @conv_nchw_input(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK: fused.conv %{{.*}}, %{{.*}} {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC", input_layout = "NCHW"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK-NEXT: ^{{.*}}(%{{.*}}: tensor<1x6x6x4xf32>):
  %c = fused.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC", input_layout = "NCHW"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  ^bb0(%acc: tensor<1x6x6x4xf32>):
    fused.yield %acc : tensor<1x6x6x4xf32>
  }
  func.return %c : tensor<1x6x6x4xf32>
}

// CHECK-LABEL: func.func @attention
func.func @attention(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>, %mask: tensor<1x1x1x6xf32>) -> tensor<1x2x4x8xf32> {
  // CHECK: fused.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x1x6xf32>) {scale = 0.353553385 : f32, causal = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32>
  %y = fused.attention %q, %k, %v mask(%mask : tensor<1x1x1x6xf32>) {scale = 0.35355339 : f32, causal = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// The heads merged: output_layout "bshd" writes the result as [batch, seq, heads, dim].
// CHECK-LABEL: func.func @attention_heads_merged
func.func @attention_heads_merged(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x4x2x8xf32> {
  // CHECK: fused.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32, causal = 1 : i64, output_layout = "bshd"} : (tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<1x4x2x8xf32>
  %y = fused.attention %q, %k, %v {scale = 0.125 : f32, causal = 1 : i64, output_layout = "bshd"} : (tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<1x4x2x8xf32>
  func.return %y : tensor<1x4x2x8xf32>
}

// transpose_a reads lhs as [..., K, M] (absent: 0).
// CHECK-LABEL: func.func @transposed_operands
// CHECK: fused.matmul %{{.*}}, %{{.*}} {transpose_a = 1 : i64, transpose_b = 1 : i64} : (tensor<2x8x3xf32>, tensor<4x8xf32>) -> tensor<2x3x4xf32> {
func.func @transposed_operands(%x: tensor<2x8x3xf32>, %w: tensor<4x8xf32>) -> tensor<2x3x4xf32> {
  %m = fused.matmul %x, %w {transpose_a = 1 : i64, transpose_b = 1 : i64} : (tensor<2x8x3xf32>, tensor<4x8xf32>) -> tensor<2x3x4xf32> {
  ^bb0(%acc: tensor<2x3x4xf32>):
    fused.yield %acc : tensor<2x3x4xf32>
  }
  func.return %m : tensor<2x3x4xf32>
}

// Integer contractions (the quant level's): 8-bit operands, signed or not, accumulate in
// i32; the epilogue rescales the accumulator and may quantize it again.
// CHECK-LABEL: func.func @integer_contractions
// CHECK: fused.matmul %{{.*}}, %{{.*}} extras(%{{.*}} : tensor<16xf32>) {transpose_b = 1 : i64} : (tensor<2x64xui8>, tensor<16x64xi8>) -> tensor<2x16xi8> {
// CHECK-NEXT: ^bb0(%{{.*}}: tensor<2x16xi32>, %{{.*}}: tensor<16xf32>):
// CHECK: fused.conv %{{.*}}, %{{.*}} {{.*}} : (tensor<1x3x8x8xi8>, tensor<4x3x3x3xi8>) -> tensor<1x4x6x6xi32> {
// CHECK-NEXT: ^bb0(%{{.*}}: tensor<1x4x6x6xi32>):
func.func @integer_contractions(%x: tensor<2x64xui8>, %w: tensor<16x64xi8>, %s: tensor<16xf32>, %i: tensor<1x3x8x8xi8>, %k: tensor<4x3x3x3xi8>) -> (tensor<2x16xi8>, tensor<1x4x6x6xi32>) {
  %m = fused.matmul %x, %w extras(%s : tensor<16xf32>) {transpose_b = 1 : i64} : (tensor<2x64xui8>, tensor<16x64xi8>) -> tensor<2x16xi8> {
  ^bb0(%acc: tensor<2x16xi32>, %scale: tensor<16xf32>):
    %f = graph.cast %acc : tensor<2x16xi32> -> tensor<2x16xf32>
    %d = graph.mul %f, %scale : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    %r = graph.round %d : tensor<2x16xf32>
    %c = graph.clip %r {min = -128.0 : f32, max = 127.0 : f32} : tensor<2x16xf32>
    %q = graph.cast %c : tensor<2x16xf32> -> tensor<2x16xi8>
    fused.yield %q : tensor<2x16xi8>
  }
  %c = fused.conv %i, %k {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xi8>, tensor<4x3x3x3xi8>) -> tensor<1x4x6x6xi32> {
  ^bb0(%acc: tensor<1x4x6x6xi32>):
    fused.yield %acc : tensor<1x4x6x6xi32>
  }
  func.return %m, %c : tensor<2x16xi8>, tensor<1x4x6x6xi32>
}
