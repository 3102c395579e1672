// RUN: optc %s -p graph-recognize-activations | filecheck %s
// RUN: optc %s -p 'graph-recognize-activations{silu=false hard_sigmoid=false}' | filecheck %s --check-prefix=SWISHONLY
// SiLU, HardSwish and HardSigmoid as exporters write them collapse into one op each;
// near misses stay as they are.

// CHECK-LABEL: func.func @silu
// CHECK-NEXT:    %[[Y:.*]] = graph.silu %{{.*}} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
// SWISHONLY-LABEL: func.func @silu
// SWISHONLY:         graph.sigmoid
func.func @silu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %s = graph.sigmoid %x : tensor<2x8xf32>
  %y = graph.mul %s, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Near miss: Swish with beta 1.702 (QuickGELU) is another function.
// CHECK-LABEL: func.func @swish_beta
// CHECK-NOT:     graph.silu
// CHECK:         graph.sigmoid
func.func @swish_beta(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %b = graph.constant dense<1.702> : tensor<f32>
  %bx = graph.mul %x, %b : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %s = graph.sigmoid %bx : tensor<2x8xf32>
  %y = graph.mul %x, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Near miss: the sigmoid is returned too, so it stays and so does the Mul.
// CHECK-LABEL: func.func @shared_sigmoid
// CHECK-NOT:     graph.silu
// CHECK:         graph.sigmoid
func.func @shared_sigmoid(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %s = graph.sigmoid %x : tensor<2x8xf32>
  %y = graph.mul %x, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y, %s : tensor<2x8xf32>, tensor<2x8xf32>
}

// PyTorch's hardswish before opset 14: x * HardSigmoid(x, alpha = 1/6).
// CHECK-LABEL: func.func @hard_swish_torch
// CHECK-NEXT:    %[[Y:.*]] = graph.hard_swish %{{.*}} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @hard_swish_torch(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %h = graph.hard_sigmoid %x {alpha = 0.16666667 : f32, beta = 0.5 : f32} : tensor<2x8xf32>
  %y = graph.mul %x, %h : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Keras' MobileNetV3 through tf2onnx: x * relu6(x + 3) / 6.
// CHECK-LABEL: func.func @hard_swish_keras
// CHECK-NEXT:    %[[Y:.*]] = graph.hard_swish %{{.*}} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
// SWISHONLY-LABEL: func.func @hard_swish_keras
// SWISHONLY-NEXT:    graph.hard_swish
func.func @hard_swish_keras(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %three = graph.constant dense<3.0> : tensor<f32>
  %six = graph.constant dense<6.0> : tensor<f32>
  %a = graph.add %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %r = graph.clip %a {min = 0.0 : f32, max = 6.0 : f32} : tensor<2x8xf32>
  %m = graph.mul %x, %r : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.div %m, %six : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// x * (relu6(x + 3) * 0.16666667): the hard sigmoid first, then the hard swish.
// CHECK-LABEL: func.func @hard_swish_scaled_first
// CHECK-NEXT:    %[[Y:.*]] = graph.hard_swish %{{.*}} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @hard_swish_scaled_first(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %three = graph.constant dense<3.0> : tensor<f32>
  %sixth = graph.constant dense<0.16666667> : tensor<f32>
  %a = graph.add %three, %x : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %r = graph.clip %a {min = 0.0 : f32, max = 6.0 : f32} : tensor<2x8xf32>
  %h = graph.mul %r, %sixth : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %y = graph.mul %h, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Near miss: x + 2 is not x + 3.
// CHECK-LABEL: func.func @hard_swish_wrong_shift
// CHECK-NOT:     graph.hard_swish
// CHECK:         graph.clip
func.func @hard_swish_wrong_shift(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %two = graph.constant dense<2.0> : tensor<f32>
  %six = graph.constant dense<6.0> : tensor<f32>
  %a = graph.add %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %r = graph.clip %a {min = 0.0 : f32, max = 6.0 : f32} : tensor<2x8xf32>
  %m = graph.mul %x, %r : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.div %m, %six : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// PyTorch's hardsigmoid written out: relu6(x + 3) / 6.
// CHECK-LABEL: func.func @hard_sigmoid_relu6
// CHECK-NEXT:    %[[Y:.*]] = graph.hard_sigmoid %{{.*}} {alpha = 0.166666672 : f32, beta = 5.000000e-01 : f32} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
// SWISHONLY-LABEL: func.func @hard_sigmoid_relu6
// SWISHONLY:         graph.clip
func.func @hard_sigmoid_relu6(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %three = graph.constant dense<3.0> : tensor<f32>
  %six = graph.constant dense<6.0> : tensor<f32>
  %a = graph.add %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %r = graph.clip %a {min = 0.0 : f32, max = 6.0 : f32} : tensor<2x8xf32>
  %y = graph.div %r, %six : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Keras' hard_sigmoid: clip(0.2 * x + 0.5, 0, 1).
// CHECK-LABEL: func.func @hard_sigmoid_keras
// CHECK-NEXT:    %[[Y:.*]] = graph.hard_sigmoid %{{.*}} {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @hard_sigmoid_keras(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %slope = graph.constant dense<0.2> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<f32>
  %m = graph.mul %x, %slope : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %a = graph.add %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %y = graph.clip %a {min = 0.0 : f32, max = 1.0 : f32} : tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// Near miss: a lone clip to [0, 1] has nothing to collapse.
// CHECK-LABEL: func.func @plain_clip
// CHECK-NEXT:    graph.clip
// CHECK-NEXT:    func.return
func.func @plain_clip(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %y = graph.clip %x {min = 0.0 : f32, max = 1.0 : f32} : tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
