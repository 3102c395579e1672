// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'fused.elementwise' op expects body block arguments of types (tensor<4xf32>), got (tensor<4xf16>)
  %e = fused.elementwise (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf16>):
    fused.yield %x : tensor<4xf32>
  }
  func.return %e : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'fused.elementwise' op yields (tensor<4xf16>) but its results are (tensor<4xf32>)
  %e = fused.elementwise (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %c = graph.cast %a : tensor<4xf32> -> tensor<4xf16>
    fused.yield %c : tensor<4xf16>
  }
  func.return %e : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> tensor<2x4xf32> {
  // CHECK: 'fused.matmul' op expects epilogue block arguments of types (tensor<2x4xf32>), got (tensor<2x8xf32>)
  %m = fused.matmul %x, %w {transpose_b = 0 : i64} : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32> {
  ^bb0(%acc: tensor<2x8xf32>):
    %r = graph.reduce_sum %acc {axes = array<i64: 1>, keepdims = 0 : i64} : tensor<2x8xf32> -> tensor<2xf32>
    fused.yield %acc : tensor<2x8xf32>
  }
  func.return %m : tensor<2x4xf32>
}

// -----

func.func @main(%x: tensor<8x2xf32>, %w: tensor<8x4xf32>) -> tensor<2x4xf32> {
  // CHECK: 'fused.matmul' op expects matching inner dimensions, got lhs read as tensor<8x2xf32> and rhs read as tensor<8x4xf32>
  %m = fused.matmul %x, %w {transpose_b = 0 : i64} : (tensor<8x2xf32>, tensor<8x4xf32>) -> tensor<2x4xf32> {
  ^bb0(%acc: tensor<2x4xf32>):
    fused.yield %acc : tensor<2x4xf32>
  }
  func.return %m : tensor<2x4xf32>
}

// -----

func.func @main(%x: tensor<8x2xf32>, %w: tensor<8x4xf32>) -> tensor<2x4xf32> {
  // CHECK: 'fused.matmul' op expects transpose_a to be 0 or 1, got 2
  %m = fused.matmul %x, %w {transpose_a = 2 : i64, transpose_b = 0 : i64} : (tensor<8x2xf32>, tensor<8x4xf32>) -> tensor<2x4xf32> {
  ^bb0(%acc: tensor<2x4xf32>):
    fused.yield %acc : tensor<2x4xf32>
  }
  func.return %m : tensor<2x4xf32>
}

// -----

func.func @main(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x4xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32> {
  // CHECK: 'fused.attention' op expects k of shape [1, 2, seq_k, 8], got tensor<1x2x6x4xf32>
  %y = fused.attention %q, %k, %v {scale = 1.0 : f32, causal = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x6x4xf32>, tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// -----

func.func @main(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32> {
  // CHECK: 'fused.attention' op expects result type tensor<1x4x2x8xf32> (output_layout bshd), got tensor<1x2x4x8xf32>
  %y = fused.attention %q, %k, %v {scale = 1.0 : f32, causal = 0 : i64, output_layout = "bshd"} : (tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// -----

func.func @main(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32> {
  // CHECK: 'fused.attention' op expects output_layout to be one of bhsd, bshd, got 'sbhd'
  %y = fused.attention %q, %k, %v {scale = 1.0 : f32, causal = 0 : i64, output_layout = "sbhd"} : (tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// -----

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK: 'fused.conv' op expects input_layout to be one of NCHW, NHWC, got 'CHWN'
  %c = fused.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC", input_layout = "CHWN"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  ^bb0(%acc: tensor<1x6x6x4xf32>):
    fused.yield %acc : tensor<1x6x6x4xf32>
  }
  func.return %c : tensor<1x6x6x4xf32>
}

// -----

// The input is NCHW: its channels are axis 1 (8 here), not the last axis (3).
func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK: 'graph.conv' op expects weight tensor<4x3x3x3xf32> to have 8/1 input channels per group, got 3 (layout NHWC, shapes shown channels first)
  %c = fused.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC", input_layout = "NCHW"} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  ^bb0(%acc: tensor<1x6x6x4xf32>):
    fused.yield %acc : tensor<1x6x6x4xf32>
  }
  func.return %c : tensor<1x6x6x4xf32>
}

// -----

func.func @main(%x: tensor<3x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // CHECK: 'fused.conv' op expects input of rank 3 or 4 or 5, got tensor<3x8xf32>
  %c = fused.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC", input_layout = "NCHW"} : (tensor<3x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x6x6x4xf32> {
  ^bb0(%acc: tensor<1x6x6x4xf32>):
    fused.yield %acc : tensor<1x6x6x4xf32>
  }
  func.return %c : tensor<1x6x6x4xf32>
}

// -----

func.func @main(%x: tensor<2x8xi8>, %w: tensor<8x4xf32>) -> tensor<2x4xi32> {
  // CHECK: 'fused.matmul' op expects both operands floats of one type or both 8-bit integers (i8, ui8), got i8 and f32
  %m = fused.matmul %x, %w {transpose_b = 0 : i64} : (tensor<2x8xi8>, tensor<8x4xf32>) -> tensor<2x4xi32> {
  ^bb0(%acc: tensor<2x4xi32>):
    fused.yield %acc : tensor<2x4xi32>
  }
  func.return %m : tensor<2x4xi32>
}

// -----

func.func @main(%x: tensor<2x8xi8>, %w: tensor<8x4xi8>) -> tensor<2x4xi8> {
  // CHECK: 'fused.matmul' op expects epilogue block arguments of types (tensor<2x4xi32>), got (tensor<2x4xi8>)
  %m = fused.matmul %x, %w {transpose_b = 0 : i64} : (tensor<2x8xi8>, tensor<8x4xi8>) -> tensor<2x4xi8> {
  ^bb0(%acc: tensor<2x4xi8>):
    fused.yield %acc : tensor<2x4xi8>
  }
  func.return %m : tensor<2x4xi8>
}
