// RUN: optc %s --split-input-file --verify-diagnostics | filecheck %s
// Verifier messages of the elementwise ops: one case per rule.

func.func @main(%x: tensor<4xi32>) -> tensor<4xi32> {
  // CHECK: 'graph.exp' op expects operands of floating-point type, got tensor<4xi32>
  %y = graph.exp %x : tensor<4xi32>
  func.return %y : tensor<4xi32>
}

// -----

func.func @main(%x: tensor<4xui8>) -> tensor<4xui8> {
  // CHECK: 'graph.neg' op expects operands of signed numeric type, got tensor<4xui8>
  %y = graph.neg %x : tensor<4xui8>
  func.return %y : tensor<4xui8>
}

// -----

func.func @main(%x: tensor<4xi1>) -> tensor<4xi1> {
  // CHECK: 'graph.add' op expects operands of numeric type, got tensor<4xi1>
  %y = graph.add %x, %x : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  func.return %y : tensor<4xi1>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xi1> {
  // CHECK: 'graph.and' op expects operands of boolean (i1) type, got tensor<4xf32>
  %y = graph.and %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  func.return %y : tensor<4xi1>
}

// -----

func.func @main(%x: tensor<4xf32>, %y: tensor<4xi32>) -> tensor<4xf32> {
  // CHECK: 'graph.mul' op expects operands of one element type, got tensor<4xf32>, tensor<4xi32>
  %z = graph.mul %x, %y : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xf32>
  func.return %z : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %y: tensor<2xf32>) -> tensor<2x3xf32> {
  // CHECK: 'graph.sub' op cannot broadcast shapes 2x3 and 2
  %z = graph.sub %x, %y : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  func.return %z : tensor<2x3xf32>
}

// -----

func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.less' op expects result type tensor<4xi1>, got tensor<4xf32>
  %z = graph.less %x, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %z : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.is_nan' op expects result type tensor<4xi1>, got tensor<4xf32>
  %y = graph.is_nan %x : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.gelu' op expects approximate to be one of none, tanh, got 'erf'
  %y = graph.gelu %x {approximate = "erf"} : tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.clip' op expects min of type f32, got 0 : i64
  %y = graph.clip %x {min = 0 : i64, max = 1.0 : f32} : tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>, %lo: tensor<2xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.clip' op expects run-time bounds to be one f32 value, got tensor<2xf32>
  %y = graph.clip %x min(%lo : tensor<2xf32>) {max = 1.0 : f32} : tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>, %hi: tensor<f32>) -> tensor<4xf32> {
  // CHECK: 'graph.clip' op expects max as a property or an operand, got both
  %y = graph.clip %x max(%hi : tensor<f32>) {min = 0.0 : f32, max = 6.0 : f32} : tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.clip' op expects min as a property or an operand, got neither
  %y = graph.clip %x {max = 6.0 : f32} : tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xi32>) -> tensor<4xi32> {
  // CHECK: 'graph.mod' op expects fmod to be 0 or 1, got 2
  %y = graph.mod %x, %x {fmod = 2 : i64} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  func.return %y : tensor<4xi32>
}


// -----

func.func @main(%x: tensor<4xi32>, %e: tensor<f32>) -> tensor<4xf32> {
  // CHECK: 'graph.pow' op expects result type tensor<4xi32>, got tensor<4xf32>
  %y = graph.pow %x, %e : (tensor<4xi32>, tensor<f32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>, %s: tensor<3x4xf32>) -> tensor<3x4xf32> {
  // CHECK: 'graph.prelu' op expects slope tensor<3x4xf32> to broadcast to the input tensor<4xf32>
  %y = graph.prelu %x, %s : (tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

func.func @main(%c: tensor<4xf32>, %x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.where' op expects condition of boolean (i1) type, got tensor<4xf32>
  %y = graph.where %c, %x, %x : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%c: tensor<4xi1>, %x: tensor<4xf32>, %z: tensor<4xf16>) -> tensor<4xf32> {
  // CHECK: 'graph.where' op expects operands of one element type, got tensor<4xf32>, tensor<4xf16>
  %y = graph.where %c, %x, %z : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%c: tensor<3xi1>, %x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: 'graph.where' op cannot broadcast shapes 3 and 4 and 4
  %y = graph.where %c, %x, %x : (tensor<3xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<2xf16> {
  // CHECK: 'graph.cast' op expects result shape equal to input shape, got tensor<4xf32> -> tensor<2xf16>
  %y = graph.cast %x : tensor<4xf32> -> tensor<2xf16>
  func.return %y : tensor<2xf16>
}
