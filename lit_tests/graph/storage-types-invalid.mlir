// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Only casts and data movement take storage-only element types; a cast carries saturate
// exactly when its target is a float8 type and round_mode exactly when it is E8M0.

func.func @main(%x: tensor<4xf8E4M3FN>) -> tensor<4xf8E4M3FN> {
  // CHECK: 'graph.add' op does not compute on f8E4M3FN (tensor<4xf8E4M3FN>), a storage-only element type that only casts and data movement accept; cast it to f16 or f32 first
  %y = graph.add %x, %x : (tensor<4xf8E4M3FN>, tensor<4xf8E4M3FN>) -> tensor<4xf8E4M3FN>
  func.return %y : tensor<4xf8E4M3FN>
}

// -----

func.func @main(%x: tensor<4xi4>) -> tensor<4xi4> {
  // CHECK: 'graph.relu' op does not compute on i4 (tensor<4xi4>), a storage-only element type
  %y = graph.relu %x : tensor<4xi4>
  func.return %y : tensor<4xi4>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf8E5M2> {
  // CHECK: 'graph.cast' op expects saturate for a cast to f8E5M2
  %y = graph.cast %x : tensor<4xf32> -> tensor<4xf8E5M2>
  func.return %y : tensor<4xf8E5M2>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf16> {
  // CHECK: 'graph.cast' op expects saturate only for float8 targets, got a cast to tensor<4xf16>
  %y = graph.cast %x {saturate = 1 : i64} : tensor<4xf32> -> tensor<4xf16>
  func.return %y : tensor<4xf16>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf8E8M0FNU> {
  // CHECK: 'graph.cast' op expects round_mode for a cast to f8E8M0FNU
  %y = graph.cast %x {saturate = 1 : i64} : tensor<4xf32> -> tensor<4xf8E8M0FNU>
  func.return %y : tensor<4xf8E8M0FNU>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf8E4M3FN> {
  // CHECK: 'graph.cast' op expects round_mode only for f8E8M0FNU targets, got a cast to tensor<4xf8E4M3FN>
  %y = graph.cast %x {saturate = 1 : i64, round_mode = "up"} : tensor<4xf32> -> tensor<4xf8E4M3FN>
  func.return %y : tensor<4xf8E4M3FN>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf8E4M3FNUZ> {
  // CHECK: 'graph.cast' op expects saturate to be 0 or 1, got 2
  %y = graph.cast %x {saturate = 2 : i64} : tensor<4xf32> -> tensor<4xf8E4M3FNUZ>
  func.return %y : tensor<4xf8E4M3FNUZ>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf8E8M0FNU> {
  // CHECK: 'graph.cast' op expects round_mode to be one of up, down, nearest, got 'even'
  %y = graph.cast %x {saturate = 1 : i64, round_mode = "even"} : tensor<4xf32> -> tensor<4xf8E8M0FNU>
  func.return %y : tensor<4xf8E8M0FNU>
}
