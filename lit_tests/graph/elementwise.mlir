// RUN: optc %s | optc | filecheck %s
// Round trip of the elementwise ops: the printed form parses back to itself.

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: %{{.*}} = graph.relu %{{.*}} : tensor<2x3xf32>
  %relu = graph.relu %x : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.sigmoid %{{.*}} : tensor<2x3xf32>
  %sigmoid = graph.sigmoid %relu : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.tanh %{{.*}} : tensor<2x3xf32>
  %tanh = graph.tanh %sigmoid : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.erf %{{.*}} : tensor<2x3xf32>
  %erf = graph.erf %tanh : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.exp %{{.*}} : tensor<2x3xf32>
  %exp = graph.exp %erf : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.log %{{.*}} : tensor<2x3xf32>
  %log = graph.log %exp : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.sqrt %{{.*}} : tensor<2x3xf32>
  %sqrt = graph.sqrt %log : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.reciprocal %{{.*}} : tensor<2x3xf32>
  %reciprocal = graph.reciprocal %sqrt : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.neg %{{.*}} : tensor<2x3xf32>
  %neg = graph.neg %reciprocal : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.abs %{{.*}} : tensor<2x3xf32>
  %abs = graph.abs %neg : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.sign %{{.*}} : tensor<2x3xf32>
  %sign = graph.sign %abs : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.hard_swish %{{.*}} : tensor<2x3xf32>
  %hard_swish = graph.hard_swish %sign : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.silu %{{.*}} : tensor<2x3xf32>
  %silu = graph.silu %hard_swish : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.softplus %{{.*}} : tensor<2x3xf32>
  %softplus = graph.softplus %silu : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.sin %{{.*}} : tensor<2x3xf32>
  %sin = graph.sin %softplus : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.cos %{{.*}} : tensor<2x3xf32>
  %cos = graph.cos %sin : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.floor %{{.*}} : tensor<2x3xf32>
  %floor = graph.floor %cos : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.ceil %{{.*}} : tensor<2x3xf32>
  %ceil = graph.ceil %floor : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.round %{{.*}} : tensor<2x3xf32>
  %round = graph.round %ceil : tensor<2x3xf32>
  func.return %round : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @binary
func.func @binary(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<2x3xf32> {
  // CHECK: %{{.*}} = graph.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %add = graph.add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.sub %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %sub = graph.sub %add, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.mul %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %mul = graph.mul %sub, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.div %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %div = graph.div %mul, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.min %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %min = graph.min %div, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.max %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %max = graph.max %min, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.prelu %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %prelu = graph.prelu %max, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %prelu : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @integers
func.func @integers(%x: tensor<4xi32>, %y: tensor<4xi32>, %e: tensor<f32>) -> (tensor<4xi32>, tensor<4xi32>) {
  // CHECK: %{{.*}} = graph.mod %{{.*}}, %{{.*}} {fmod = 0 : i64} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %m = graph.mod %x, %y {fmod = 0 : i64} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  // CHECK-NEXT: %{{.*}} = graph.pow %{{.*}}, %{{.*}} : (tensor<4xi32>, tensor<f32>) -> tensor<4xi32>
  %p = graph.pow %m, %e : (tensor<4xi32>, tensor<f32>) -> tensor<4xi32>
  func.return %m, %p : tensor<4xi32>, tensor<4xi32>
}

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<4xf16>) -> tensor<4xf16> {
  // CHECK: %{{.*}} = graph.leaky_relu %{{.*}} {alpha = 1.000000e-02 : f32} : tensor<4xf16>
  %a = graph.leaky_relu %x {alpha = 0.01 : f32} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.elu %{{.*}} {alpha = 1.000000e+00 : f32} : tensor<4xf16>
  %b = graph.elu %a {alpha = 1.0 : f32} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.selu %{{.*}} {alpha = 1.67326319 : f32, gamma = 1.05070102 : f32} : tensor<4xf16>
  %c = graph.selu %b {alpha = 1.67326319217681884765625 : f32, gamma = 1.05070102214813232421875 : f32} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.celu %{{.*}} {alpha = 2.000000e+00 : f32} : tensor<4xf16>
  %d = graph.celu %c {alpha = 2.0 : f32} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.thresholded_relu %{{.*}} {alpha = 1.000000e+00 : f32} : tensor<4xf16>
  %e = graph.thresholded_relu %d {alpha = 1.0 : f32} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.hard_sigmoid %{{.*}} {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : tensor<4xf16>
  %f = graph.hard_sigmoid %e {alpha = 0.2 : f32, beta = 0.5 : f32} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.gelu %{{.*}} {approximate = "none"} : tensor<4xf16>
  %g = graph.gelu %f {approximate = "none"} : tensor<4xf16>
  // CHECK-NEXT: %{{.*}} = graph.gelu %{{.*}} {approximate = "tanh"} : tensor<4xf16>
  %h = graph.gelu %g {approximate = "tanh"} : tensor<4xf16>
  func.return %h : tensor<4xf16>
}

// CHECK-LABEL: func.func @clip
func.func @clip(%x: tensor<2x3xf32>, %lo: tensor<f32>, %hi: tensor<1xf32>, %i: tensor<4xui8>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<4xui8>) {
  // CHECK: %{{.*}} = graph.clip %{{.*}} {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32} : tensor<2x3xf32>
  %a = graph.clip %x {min = 0.0 : f32, max = 6.0 : f32} : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.clip %{{.*}} min(%{{.*}} : tensor<f32>) max(%{{.*}} : tensor<1xf32>) : tensor<2x3xf32>
  %b = graph.clip %x min(%lo : tensor<f32>) max(%hi : tensor<1xf32>) : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.clip %{{.*}} max(%{{.*}} : tensor<1xf32>) {min = -1.000000e+00 : f32} : tensor<2x3xf32>
  %c = graph.clip %x max(%hi : tensor<1xf32>) {min = -1.0 : f32} : tensor<2x3xf32>
  // CHECK-NEXT: %{{.*}} = graph.clip %{{.*}} {min = 0 : ui8, max = 200 : ui8} : tensor<4xui8>
  %d = graph.clip %i {min = 0 : ui8, max = 200 : ui8} : tensor<4xui8>
  func.return %a, %b, %c, %d : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<4xui8>
}

// CHECK-LABEL: func.func @predicates
func.func @predicates(%x: tensor<2x3xf32>, %y: tensor<3xf32>, %b: tensor<2x3xi1>) -> (tensor<2x3xi1>, tensor<2x3xf32>) {
  // CHECK: %{{.*}} = graph.equal %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %eq = graph.equal %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.less %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %lt = graph.less %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.less_or_equal %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %le = graph.less_or_equal %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.greater %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %gt = graph.greater %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.greater_or_equal %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %ge = graph.greater_or_equal %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.and %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  %and = graph.and %eq, %lt : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.or %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  %or = graph.or %and, %le : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.xor %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  %xor = graph.xor %or, %gt : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.not %{{.*}} : tensor<2x3xi1>
  %not = graph.not %xor : tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.is_nan %{{.*}} : tensor<2x3xf32> -> tensor<2x3xi1>
  %nan = graph.is_nan %x : tensor<2x3xf32> -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.is_inf %{{.*}} {detect_negative = 0 : i64, detect_positive = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xi1>
  %inf = graph.is_inf %x {detect_negative = 0 : i64, detect_positive = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xi1>
  // CHECK-NEXT: %{{.*}} = graph.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %w = graph.where %not, %x, %y : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %inf, %w : tensor<2x3xi1>, tensor<2x3xf32>
}

// CHECK-LABEL: func.func @casts
func.func @casts(%x: tensor<2x3xf32>) -> (tensor<2x3xbf16>, tensor<2x3xi1>) {
  // CHECK: %{{.*}} = graph.cast %{{.*}} : tensor<2x3xf32> -> tensor<2x3xbf16>
  %a = graph.cast %x : tensor<2x3xf32> -> tensor<2x3xbf16>
  // CHECK-NEXT: %{{.*}} = graph.cast %{{.*}} : tensor<2x3xbf16> -> tensor<2x3xi1>
  %b = graph.cast %a : tensor<2x3xbf16> -> tensor<2x3xi1>
  func.return %a, %b : tensor<2x3xbf16>, tensor<2x3xi1>
}
