// RUN: optc %s -p graph-recognize-gelu | filecheck %s
// RUN: optc %s -p 'graph-recognize-gelu{tanh=false}' | filecheck %s --check-prefix=NOTANH
// RUN: optc %s -p 'graph-recognize-gelu{erf=false}' | filecheck %s --check-prefix=NOERF
// GELU as exporters write it collapses into graph.gelu; near misses stay as they are.

// PyTorch's nn.GELU before opset 20: x * (erf(x / 1.4142135) + 1) * 0.5.
// CHECK-LABEL: func.func @erf_torch
// CHECK-NEXT:    %[[G:.*]] = graph.gelu %{{.*}} {approximate = "none"} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[G]]
// NOERF-LABEL: func.func @erf_torch
// NOERF:         graph.erf
func.func @erf_torch(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = graph.constant dense<1.4142135> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<f32>
  %d = graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = graph.erf %d : tensor<2x8xf32>
  %a = graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = graph.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// BERT's gelu as TensorFlow writes it: (x * 0.5) * (1 + erf(x * 0.70710677)).
// CHECK-LABEL: func.func @erf_half_first
// CHECK-NEXT:    %[[G:.*]] = graph.gelu %{{.*}} {approximate = "none"} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[G]]
func.func @erf_half_first(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = graph.constant dense<0.5> : tensor<f32>
  %rsqrt2 = graph.constant dense<0.70710677> : tensor<1xf32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %h = graph.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %s = graph.mul %rsqrt2, %x : (tensor<1xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %e = graph.erf %s : tensor<2x8xf32>
  %a = graph.add %one, %e : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.mul %h, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// x * (1 + erf(x / sqrt 2)) / 2.
// CHECK-LABEL: func.func @erf_div_two
// CHECK-NEXT:    %[[G:.*]] = graph.gelu %{{.*}} {approximate = "none"} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[G]]
func.func @erf_div_two(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = graph.constant dense<1.41421356> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %two = graph.constant dense<2.0> : tensor<f32>
  %d = graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = graph.erf %d : tensor<2x8xf32>
  %a = graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = graph.mul %a, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.div %m, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// GPT-2's gelu_new: 0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * pow(x, 3)))).
// CHECK-LABEL: func.func @tanh_pow
// CHECK-NEXT:    %[[G:.*]] = graph.gelu %{{.*}} {approximate = "tanh"} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[G]]
// NOTANH-LABEL: func.func @tanh_pow
// NOTANH:         graph.tanh
// NOTANH-NOT:     graph.gelu
// NOTANH:         func.return
func.func @tanh_pow(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %three = graph.constant dense<3.0> : tensor<f32>
  %kappa = graph.constant dense<0.044715> : tensor<f32>
  %beta = graph.constant dense<0.7978845608> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<f32>
  %cube = graph.pow %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %k = graph.mul %kappa, %cube : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %i = graph.add %x, %k : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %s = graph.mul %beta, %i : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %t = graph.tanh %s : tensor<2x8xf32>
  %a = graph.add %one, %t : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %h = graph.mul %half, %x : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.mul %h, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// PyTorch's nn.GELU(approximate="tanh") before opset 20: x³ as x * (x * x), 0.5 last.
// CHECK-LABEL: func.func @tanh_torch
// CHECK-NEXT:    %[[G:.*]] = graph.gelu %{{.*}} {approximate = "tanh"} : tensor<4xf16>
// CHECK-NEXT:    func.return %[[G]]
func.func @tanh_torch(%x: tensor<4xf16>) -> tensor<4xf16> {
  %kappa = graph.constant dense<0.044715> : tensor<f16>
  %beta = graph.constant dense<0.79788456> : tensor<f16>
  %one = graph.constant dense<1.0> : tensor<f16>
  %half = graph.constant dense<0.5> : tensor<f16>
  %sq = graph.mul %x, %x : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  %cube = graph.mul %x, %sq : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  %k = graph.mul %kappa, %cube : (tensor<f16>, tensor<4xf16>) -> tensor<4xf16>
  %i = graph.add %x, %k : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  %s = graph.mul %beta, %i : (tensor<f16>, tensor<4xf16>) -> tensor<4xf16>
  %t = graph.tanh %s : tensor<4xf16>
  %a = graph.add %one, %t : (tensor<f16>, tensor<4xf16>) -> tensor<4xf16>
  %m = graph.mul %x, %a : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  %y = graph.mul %half, %m : (tensor<f16>, tensor<4xf16>) -> tensor<4xf16>
  func.return %y : tensor<4xf16>
}

// Near miss: 1.5 is not sqrt 2.
// CHECK-LABEL: func.func @wrong_constant
// CHECK-NOT:     graph.gelu
// CHECK:         graph.erf
func.func @wrong_constant(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %c = graph.constant dense<1.5> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<f32>
  %d = graph.div %x, %c : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = graph.erf %d : tensor<2x8xf32>
  %a = graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = graph.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Near miss: erf's result is read by something else, so the formula stays whole.
// CHECK-LABEL: func.func @shared_erf
// CHECK-NOT:     graph.gelu
// CHECK:         graph.erf
func.func @shared_erf(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %sqrt2 = graph.constant dense<1.4142135> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<f32>
  %d = graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = graph.erf %d : tensor<2x8xf32>
  %a = graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = graph.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y, %e : tensor<2x8xf32>, tensor<2x8xf32>
}

// Near miss: the 0.5 broadcasts x to a larger shape, which graph.gelu cannot.
// CHECK-LABEL: func.func @broadcast
// CHECK-NOT:     graph.gelu
// CHECK:         graph.erf
func.func @broadcast(%x: tensor<8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = graph.constant dense<1.4142135> : tensor<f32>
  %one = graph.constant dense<1.0> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<2x8xf32>
  %d = graph.div %x, %sqrt2 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %e = graph.erf %d : tensor<8xf32>
  %a = graph.add %e, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %m = graph.mul %x, %a : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %y = graph.mul %m, %half : (tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
