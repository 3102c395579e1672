// RUN: optc %s -p quant-fold-qdq | filecheck %s
// On fused IR: a contraction of symmetric dequantized 8-bit integers multiplies the integers
// (i32 accumulator, rescaled by s_x * s_w in its epilogue); a quantize of a fused op's result
// joins that op's region, a dequantize joins the region reading it; the rest become one-op
// elementwise kernels. No quant op remains. tests/test_pass_fold_qdq.py runs each function
// before and after the pass.

// Per-channel weights (axis 0 of the conv weight), a bias and a ReLU, then a quantize.
// CHECK-LABEL: func.func @conv_per_channel
// CHECK-NOT:     quant.
// CHECK:         %[[S:.*]] = graph.constant dense<{{.*}}5.000000e-04{{.*}}2.000000e-03{{.*}}> : tensor<1x4x1x1xf32>
// CHECK:         fused.conv %x, %w extras(%[[S]], %b : tensor<1x4x1x1xf32>, tensor<1x4x1x1xf32>)
// CHECK-SAME:      : (tensor<1x3x5x5xi8>, tensor<4x3x1x1xi8>) -> tensor<1x4x5x5xi8>
// CHECK-NEXT:    ^bb0(%acc: tensor<1x4x5x5xi32>, %[[SA:.*]]: tensor<1x4x1x1xf32>, %[[BA:.*]]: tensor<1x4x1x1xf32>):
// CHECK:           %[[F:.*]] = graph.cast %acc : tensor<1x4x5x5xi32> -> tensor<1x4x5x5xf32>
// CHECK-NEXT:      %[[D:.*]] = graph.mul %[[F]], %[[SA]]
// CHECK-NEXT:      %[[A:.*]] = graph.add %[[D]], %[[BA]]
// CHECK-NEXT:      %[[R:.*]] = graph.relu %[[A]]
// CHECK-NEXT:      %[[Q0:.*]] = graph.div %[[R]]
// CHECK-NEXT:      %[[Q1:.*]] = graph.round %[[Q0]]
// CHECK-NEXT:      %[[Q2:.*]] = graph.clip %[[Q1]] {min = -1.280000e+02 : f32, max = 1.270000e+02 : f32}
// CHECK-NEXT:      %[[Q:.*]] = graph.cast %[[Q2]] : tensor<1x4x5x5xf32> -> tensor<1x4x5x5xi8>
// CHECK-NEXT:      fused.yield %[[Q]] : tensor<1x4x5x5xi8>
// CHECK-NOT:     quant.
// CHECK:         func.return
func.func @conv_per_channel(%x: tensor<1x3x5x5xi8>) -> tensor<1x4x5x5xi8> {
  %sx = graph.constant dense<0.05> : tensor<f32>
  %w = graph.constant dense<[[[[1]], [[-2]], [[3]]], [[[4]], [[5]], [[-6]]], [[[-7]], [[8]], [[9]]], [[[10]], [[-11]], [[127]]]]> : tensor<4x3x1x1xi8>
  %sw = graph.constant dense<[0.01, 0.02, 0.03, 0.04]> : tensor<4xf32>
  %b = graph.constant dense<[[[[0.5]], [[-0.25]], [[0.125]], [[1.0]]]]> : tensor<1x4x1x1xf32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<1x3x5x5xi8> -> tensor<1x3x5x5xf32>
  %wf = quant.dequantize %w scale(%sw : tensor<4xf32>) {axis = 0 : i64} : tensor<4x3x1x1xi8> -> tensor<4x3x1x1xf32>
  %c = fused.conv %xf, %wf extras(%b : tensor<1x4x1x1xf32>) {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x5x5xf32>, tensor<4x3x1x1xf32>) -> tensor<1x4x5x5xf32> {
  ^bb0(%acc: tensor<1x4x5x5xf32>, %bias: tensor<1x4x1x1xf32>):
    %a = graph.add %acc, %bias : (tensor<1x4x5x5xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x5x5xf32>
    %r = graph.relu %a : tensor<1x4x5x5xf32>
    fused.yield %r : tensor<1x4x5x5xf32>
  }
  %sy = graph.constant dense<0.1> : tensor<f32>  // after the conv, as quant-insert-qdq places it
  %y = quant.quantize %c scale(%sy : tensor<f32>) : tensor<1x4x5x5xf32> -> tensor<1x4x5x5xi8>
  func.return %y : tensor<1x4x5x5xi8>
}

// A matmul reading its weight as [N, K] (transpose_b): the per-channel axis is the weight's 0,
// the accumulator's last. The float result leaves through no quantize.
// CHECK-LABEL: func.func @matmul_transpose_b
// CHECK:         %[[S:.*]] = graph.constant dense<{{.*}}1.250000e-01{{.*}}> : tensor<1x3xf32>
// CHECK:         fused.matmul %x, %w extras(%[[S]] : tensor<1x3xf32>) {transpose_b = 1 : i64}
// CHECK-SAME:      : (tensor<2x4xi8>, tensor<3x4xi8>) -> tensor<2x3xf32>
// CHECK-NEXT:    ^bb0(%acc: tensor<2x3xi32>, %{{.*}}: tensor<1x3xf32>):
// CHECK-NOT:     quant.
func.func @matmul_transpose_b(%x: tensor<2x4xi8>) -> tensor<2x3xf32> {
  %sx = graph.constant dense<0.5> : tensor<f32>
  %w = graph.constant dense<[[1, 2, 3, 4], [-5, 6, -7, 8], [127, -128, 0, 1]]> : tensor<3x4xi8>
  %sw = graph.constant dense<[0.25, 0.125, 0.0625]> : tensor<3xf32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<2x4xi8> -> tensor<2x4xf32>
  %wf = quant.dequantize %w scale(%sw : tensor<3xf32>) {axis = 0 : i64} : tensor<3x4xi8> -> tensor<3x4xf32>
  %y = fused.matmul %xf, %wf {transpose_b = 1 : i64} : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32> {
  ^bb0(%acc: tensor<2x3xf32>):
    fused.yield %acc : tensor<2x3xf32>
  }
  func.return %y : tensor<2x3xf32>
}

// A QKV projection whose epilogue splits the heads: the combined scale broadcasts on the
// accumulator's last axis ([1, 1, N], the product's rank), not the result's.
// CHECK-LABEL: func.func @matmul_head_split
// CHECK:         %[[S:.*]] = graph.constant dense<{{.*}}> : tensor<1x1x4xf32>
// CHECK:         fused.matmul %x, %{{.*}} extras(%[[S]] : tensor<1x1x4xf32>) {transpose_b = 1 : i64}
// CHECK-SAME:      -> tensor<1x2x3x2xf32>
// CHECK-NEXT:    ^bb0(%acc: tensor<1x3x4xi32>, %{{.*}}: tensor<1x1x4xf32>):
func.func @matmul_head_split(%x: tensor<1x3x4xi8>) -> tensor<1x2x3x2xf32> {
  %sx = graph.constant dense<0.5> : tensor<f32>
  %w = graph.constant dense<[[1, 2, 3, 4], [-5, 6, -7, 8], [127, -128, 0, 1], [3, 3, -3, 3]]> : tensor<4x4xi8>
  %sw = graph.constant dense<[0.25, 0.125, 0.0625, 0.5]> : tensor<4xf32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<1x3x4xi8> -> tensor<1x3x4xf32>
  %wf = quant.dequantize %w scale(%sw : tensor<4xf32>) {axis = 1 : i64} : tensor<4x4xi8> -> tensor<4x4xf32>
  %y = fused.matmul %xf, %wf {transpose_b = 0 : i64} : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x2x3x2xf32> {
  ^bb0(%acc: tensor<1x3x4xf32>):
    %r = graph.reshape %acc : tensor<1x3x4xf32> -> tensor<1x3x2x2xf32>
    %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<1x3x2x2xf32> -> tensor<1x2x3x2xf32>
    fused.yield %t : tensor<1x2x3x2xf32>
  }
  func.return %y : tensor<1x2x3x2xf32>
}

// Both operands activations (attention's q·kᵀ), per tensor: the scale is one literal.
// CHECK-LABEL: func.func @activations_per_tensor
// CHECK:         fused.matmul %q, %k {transpose_b = 1 : i64} : (tensor<2x4x8xi8>, tensor<2x4x8xi8>) -> tensor<2x4x4xf32>
// CHECK-NEXT:    ^bb0(%acc: tensor<2x4x4xi32>):
// CHECK-NEXT:      %[[S:.*]] = graph.constant dense<1.250000e-02> : tensor<f32>
// CHECK-NEXT:      %[[F:.*]] = graph.cast %acc
// CHECK-NEXT:      %{{.*}} = graph.mul %[[F]], %[[S]]
func.func @activations_per_tensor(%q: tensor<2x4x8xi8>, %k: tensor<2x4x8xi8>) -> tensor<2x4x4xf32> {
  %sq = graph.constant dense<0.25> : tensor<f32>
  %sk = graph.constant dense<0.05> : tensor<f32>
  %qf = quant.dequantize %q scale(%sq : tensor<f32>) : tensor<2x4x8xi8> -> tensor<2x4x8xf32>
  %kf = quant.dequantize %k scale(%sk : tensor<f32>) : tensor<2x4x8xi8> -> tensor<2x4x8xf32>
  %s = fused.matmul %qf, %kf {transpose_b = 1 : i64} : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x4xf32> {
  ^bb0(%acc: tensor<2x4x4xf32>):
    fused.yield %acc : tensor<2x4x4xf32>
  }
  func.return %s : tensor<2x4x4xf32>
}

// Channels last: an NHWC conv's weight is OHWI, its output channel still axis 0, and the
// accumulator's channel axis is the last, so the combined scale broadcasts as [1, 1, 1, C].
// A dequantized residual, an extra, joins the epilogue as int8.
// CHECK-LABEL: func.func @conv_nhwc_residual
// CHECK:         %[[S:.*]] = graph.constant dense<{{.*}}> : tensor<1x1x1x2xf32>
// CHECK:         fused.conv %x, %w extras(%[[S]], %res : tensor<1x1x1x2xf32>, tensor<1x4x4x2xi8>) {{.*}}layout = "NHWC"
// CHECK-SAME:      : (tensor<1x4x4x3xi8>, tensor<2x1x1x3xi8>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    ^bb0(%acc: tensor<1x4x4x2xi32>, %{{.*}}: tensor<1x1x1x2xf32>, %[[R:.*]]: tensor<1x4x4x2xi8>):
// CHECK:           graph.cast %[[R]] : tensor<1x4x4x2xi8> -> tensor<1x4x4x2xf32>
// CHECK-NOT:     quant.
func.func @conv_nhwc_residual(%x: tensor<1x4x4x3xi8>, %res: tensor<1x4x4x2xi8>) -> tensor<1x4x4x2xf32> {
  %sx = graph.constant dense<0.5> : tensor<f32>
  %w = graph.constant dense<[[[[1, -2, 3]]], [[[4, 5, -6]]]]> : tensor<2x1x1x3xi8>
  %sw = graph.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %sr = graph.constant dense<0.0625> : tensor<f32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<1x4x4x3xi8> -> tensor<1x4x4x3xf32>
  %wf = quant.dequantize %w scale(%sw : tensor<2xf32>) {axis = 0 : i64} : tensor<2x1x1x3xi8> -> tensor<2x1x1x3xf32>
  %rf = quant.dequantize %res scale(%sr : tensor<f32>) : tensor<1x4x4x2xi8> -> tensor<1x4x4x2xf32>
  %c = fused.conv %xf, %wf extras(%rf : tensor<1x4x4x2xf32>) {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>) -> tensor<1x4x4x2xf32> {
  ^bb0(%acc: tensor<1x4x4x2xf32>, %r: tensor<1x4x4x2xf32>):
    %a = graph.add %acc, %r : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
    fused.yield %a : tensor<1x4x4x2xf32>
  }
  func.return %c : tensor<1x4x4x2xf32>
}

// A weight scale per axis 0 of a [K, N] weight is per input channel, not per output channel:
// the matmul stays float.
// CHECK-LABEL: func.func @weight_scale_on_the_reduced_axis
// CHECK:         fused.matmul %{{.*}}, %{{.*}} {transpose_b = 0 : i64} : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
func.func @weight_scale_on_the_reduced_axis(%x: tensor<2x3xi8>) -> tensor<2x2xf32> {
  %sx = graph.constant dense<0.5> : tensor<f32>
  %w = graph.constant dense<[[1, 2], [3, 4], [5, 6]]> : tensor<3x2xi8>
  %sw = graph.constant dense<[0.25, 0.125, 0.5]> : tensor<3xf32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<2x3xi8> -> tensor<2x3xf32>
  %wf = quant.dequantize %w scale(%sw : tensor<3xf32>) {axis = 0 : i64} : tensor<3x2xi8> -> tensor<3x2xf32>
  %y = fused.matmul %xf, %wf {transpose_b = 0 : i64} : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32> {
  ^bb0(%acc: tensor<2x2xf32>):
    fused.yield %acc : tensor<2x2xf32>
  }
  func.return %y : tensor<2x2xf32>
}

// An f16 model (what --precision int8 leaves around the int8 layers): the product is rescaled
// in f32, then rounded once to the old f16 accumulator, which the epilogue goes on with. The
// constant [K, N] weight is stored [N, K] (transpose_b), as the int8 tensor-core kernel reads it.
// CHECK-LABEL: func.func @matmul_f16
// CHECK:         %[[W:.*]] = graph.weight "weight_nk.{{.*}}" : tensor<4x8xi8>
// CHECK:         fused.matmul %x, %[[W]] {transpose_b = 1 : i64} : (tensor<2x8xi8>, tensor<4x8xi8>) -> tensor<2x4xf16>
// CHECK:           %[[F:.*]] = graph.cast %acc : tensor<2x4xi32> -> tensor<2x4xf32>
// CHECK-NEXT:      %[[S:.*]] = graph.mul %[[F]], %{{.*}} : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
// CHECK-NEXT:      %{{.*}} = graph.cast %[[S]] : tensor<2x4xf32> -> tensor<2x4xf16>
// CHECK-NEXT:      graph.relu
func.func @matmul_f16(%x: tensor<2x8xi8>) -> tensor<2x4xf16> {
  %sx = graph.constant dense<0.03> : tensor<f32>
  %w = graph.constant dense<[[1, 2, 3, 4], [5, 6, 7, 8], [-1, -2, -3, -4], [9, 10, 11, 12], [127, -128, 0, 1], [2, 2, 2, 2], [-7, 7, -7, 7], [3, 1, 4, 1]]> : tensor<8x4xi8>
  %sw = graph.constant dense<0.02> : tensor<f32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<2x8xi8> -> tensor<2x8xf16>
  %wf = quant.dequantize %w scale(%sw : tensor<f32>) : tensor<8x4xi8> -> tensor<8x4xf16>
  %y = fused.matmul %xf, %wf {transpose_b = 0 : i64} : (tensor<2x8xf16>, tensor<8x4xf16>) -> tensor<2x4xf16> {
  ^bb0(%acc: tensor<2x4xf16>):
    %r = graph.relu %acc : tensor<2x4xf16>
    fused.yield %r : tensor<2x4xf16>
  }
  func.return %y : tensor<2x4xf16>
}

// An activation zero point that is not zero keeps the matmul float: its dequantizes run as
// elementwise kernels of their own.
// CHECK-LABEL: func.func @asymmetric_stays_float
// CHECK:         %[[X:.*]] = fused.elementwise(%x) : (tensor<2x4xi8>) -> tensor<2x4xf32>
// CHECK:         %[[W:.*]] = fused.elementwise(%{{.*}}) : (tensor<4x3xi8>) -> tensor<4x3xf32>
// CHECK:         fused.matmul %[[X]], %[[W]] {transpose_b = 0 : i64} : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
// CHECK-NOT:     quant.
func.func @asymmetric_stays_float(%x: tensor<2x4xi8>) -> tensor<2x3xf32> {
  %sx = graph.constant dense<0.5> : tensor<f32>
  %zx = graph.constant dense<3> : tensor<i8>
  %w = graph.constant dense<[[1, 2, 3], [4, 5, 6], [7, 8, 9], [-1, -2, -3]]> : tensor<4x3xi8>
  %sw = graph.constant dense<0.25> : tensor<f32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) zero_point(%zx : tensor<i8>) : tensor<2x4xi8> -> tensor<2x4xf32>
  %wf = quant.dequantize %w scale(%sw : tensor<f32>) : tensor<4x3xi8> -> tensor<4x3xf32>
  %y = fused.matmul %xf, %wf {transpose_b = 0 : i64} : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32> {
  ^bb0(%acc: tensor<2x3xf32>):
    fused.yield %acc : tensor<2x3xf32>
  }
  func.return %y : tensor<2x3xf32>
}

// A residual add of two dequantized tensors, quantized again: one kernel, int8 in and out.
// CHECK-LABEL: func.func @residual_add
// CHECK-NEXT:    %[[Y:.*]] = fused.elementwise(%a, %b) : (tensor<8xi8>, tensor<8xui8>) -> tensor<8xi8> {
// CHECK-NEXT:    ^bb0(%[[A:.*]]: tensor<8xi8>, %[[B:.*]]: tensor<8xui8>):
// CHECK:           graph.cast %[[B]] : tensor<8xui8> -> tensor<8xf32>
// CHECK:           graph.sub
// CHECK:           graph.cast %[[A]] : tensor<8xi8> -> tensor<8xf32>
// CHECK:           graph.add
// CHECK:           graph.round
// CHECK:           fused.yield %{{.*}} : tensor<8xi8>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : tensor<8xi8>
func.func @residual_add(%a: tensor<8xi8>, %b: tensor<8xui8>) -> tensor<8xi8> {
  %sa = graph.constant dense<0.1> : tensor<f32>
  %sb = graph.constant dense<0.2> : tensor<f32>
  %zb = graph.constant dense<128> : tensor<ui8>
  %sy = graph.constant dense<0.3> : tensor<f32>
  %af = quant.dequantize %a scale(%sa : tensor<f32>) : tensor<8xi8> -> tensor<8xf32>
  %bf = quant.dequantize %b scale(%sb : tensor<f32>) zero_point(%zb : tensor<ui8>) : tensor<8xui8> -> tensor<8xf32>
  %s = fused.elementwise(%af, %bf) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%x: tensor<8xf32>, %y: tensor<8xf32>):
    %r = graph.add %x, %y : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    fused.yield %r : tensor<8xf32>
  }
  %q = quant.quantize %s scale(%sy : tensor<f32>) : tensor<8xf32> -> tensor<8xi8>
  func.return %q : tensor<8xi8>
}

// A quantized constant parameter (onnxruntime quantizes a BatchNormalization's scale) is
// folded into its float values, which the kernel reads as before; the activation's
// dequantize starts the region.
// CHECK-LABEL: func.func @norm_with_a_quantized_scale
// CHECK:         %[[G:.*]] = graph.constant dense<[5.000000e-01, 1.000000e+00, 1.500000e+00]> : tensor<3xf32>
// CHECK:         fused.reduction(%x, %[[G]], %beta, %mean, %var) : (tensor<1x3x2x2xi8>, tensor<3xf32>,
// CHECK-NOT:     quant.
func.func @norm_with_a_quantized_scale(%x: tensor<1x3x2x2xi8>, %beta: tensor<3xf32>, %mean: tensor<3xf32>) -> tensor<1x3x2x2xf32> {
  %var = graph.constant dense<[1.0, 0.5, 2.0]> : tensor<3xf32>
  %sx = graph.constant dense<0.1> : tensor<f32>
  %g = graph.constant dense<[10, 20, 30]> : tensor<3xi8>
  %sg = graph.constant dense<0.05> : tensor<f32>
  %xf = quant.dequantize %x scale(%sx : tensor<f32>) : tensor<1x3x2x2xi8> -> tensor<1x3x2x2xf32>
  %gf = quant.dequantize %g scale(%sg : tensor<f32>) : tensor<3xi8> -> tensor<3xf32>
  %y = fused.reduction(%xf, %gf, %beta, %mean, %var) : (tensor<1x3x2x2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x2x2xf32> {
  ^bb0(%a: tensor<1x3x2x2xf32>, %b: tensor<3xf32>, %c: tensor<3xf32>, %d: tensor<3xf32>, %e: tensor<3xf32>):
    %n = graph.batch_norm %a, %b, %c, %d, %e {epsilon = 1.000000e-05 : f32} : (tensor<1x3x2x2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x2x2xf32>
    fused.yield %n : tensor<1x3x2x2xf32>
  }
  func.return %y : tensor<1x3x2x2xf32>
}

// Quantize and dequantize on their own, with scales known only at run time and per axis.
// CHECK-LABEL: func.func @leftovers
// CHECK:         %[[V:.*]] = graph.reshape %s : tensor<3xf32> -> tensor<1x3xf32>
// CHECK-NEXT:    %[[Q:.*]] = fused.elementwise(%x, %[[V]]) : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xi8>
// CHECK:         fused.elementwise(%[[Q]], %t) : (tensor<2x3xi8>, tensor<f32>) -> tensor<2x3xf16>
// CHECK-NOT:     quant.
func.func @leftovers(%x: tensor<2x3xf32>, %s: tensor<3xf32>, %t: tensor<f32>) -> (tensor<2x3xi8>, tensor<2x3xf16>) {
  %q = quant.quantize %x scale(%s : tensor<3xf32>) {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xi8>
  %d = quant.dequantize %q scale(%t : tensor<f32>) : tensor<2x3xi8> -> tensor<2x3xf16>
  func.return %q, %d : tensor<2x3xi8>, tensor<2x3xf16>
}

// ONNX's integer ops (MatMulInteger, QLinearMatMul): a symmetric quant.matmul is an integer
// fused.matmul yielding its accumulator; requantize an elementwise kernel in f64.
// CHECK-LABEL: func.func @integer_ops
// CHECK:         %[[ACC:.*]] = fused.matmul %a, %b {transpose_b = 0 : i64} : (tensor<2x4xi8>, tensor<4x3xi8>) -> tensor<2x3xi32>
// CHECK:         fused.elementwise(%[[ACC]]) : (tensor<2x3xi32>) -> tensor<2x3xui8>
// CHECK:           graph.cast %{{.*}} : tensor<2x3xi32> -> tensor<2x3xf64>
// CHECK-NOT:     quant.
func.func @integer_ops(%a: tensor<2x4xi8>, %b: tensor<4x3xi8>) -> tensor<2x3xui8> {
  %m = graph.constant dense<0.003> : tensor<f32>
  %z = graph.constant dense<128> : tensor<ui8>
  %acc = quant.matmul %a, %b : (tensor<2x4xi8>, tensor<4x3xi8>) -> tensor<2x3xi32>
  %y = quant.requantize %acc scale(%m : tensor<f32>) zero_point(%z : tensor<ui8>) : tensor<2x3xi32> -> tensor<2x3xui8>
  func.return %y : tensor<2x3xui8>
}

// Blocked quantization (scales known only at run time): the kernel reads the input viewed as
// [.., n / b, b, ..], the scales as [.., n / b, 1, ..]; a reshape gives the result back.
// CHECK-LABEL: func.func @blocked
// CHECK:         %[[X:.*]] = graph.reshape %x : tensor<3x4xf32> -> tensor<3x2x2xf32>
// CHECK:         %[[S:.*]] = graph.reshape %s : tensor<3x2xf32> -> tensor<3x2x1xf32>
// CHECK:         %[[Q:.*]] = fused.elementwise(%[[X]], %[[S]]{{.*}}) : (tensor<3x2x2xf32>, tensor<3x2x1xf32>{{.*}}) -> tensor<3x2x2xi8>
// CHECK:         graph.reshape %[[Q]] : tensor<3x2x2xi8> -> tensor<3x4xi8>
// CHECK-NOT:     quant.
func.func @blocked(%x: tensor<3x4xf32>, %s: tensor<3x2xf32>, %z: tensor<3x2xi8>) -> (tensor<3x4xi8>, tensor<3x4xf32>) {
  %q = quant.quantize %x scale(%s : tensor<3x2xf32>) zero_point(%z : tensor<3x2xi8>) {axis = 1 : i64, block_size = 2 : i64} : tensor<3x4xf32> -> tensor<3x4xi8>
  %d = quant.dequantize %q scale(%s : tensor<3x2xf32>) zero_point(%z : tensor<3x2xi8>) {axis = 1 : i64, block_size = 2 : i64} : tensor<3x4xi8> -> tensor<3x4xf32>
  func.return %q, %d : tensor<3x4xi8>, tensor<3x4xf32>
}

// Zero points (MatMulInteger, ConvInteger, asymmetric QLinear*): the operands are centered,
// `x - zero_point` in f64 (a per-row or per-column zero point broadcast on its axis, a run-time
// one too), and the f64 product, exact, is cast to the i32 accumulator. The conv's padding
// is the input's zero point, 0 once centered.
// CHECK-LABEL: func.func @asymmetric_integer_ops
// CHECK:         %[[A:.*]] = fused.elementwise(%a) : (tensor<2x3x4xui8>) -> tensor<2x3x4xf64>
// CHECK:         %[[ZB:.*]] = graph.reshape %zb : tensor<5xi8> -> tensor<1x5xi8>
// CHECK:         %[[B:.*]] = fused.elementwise(%b, %[[ZB]]) : (tensor<4x5xi8>, tensor<1x5xi8>) -> tensor<4x5xf64>
// CHECK:         fused.matmul %[[A]], %[[B]] {transpose_b = 0 : i64} : (tensor<2x3x4xf64>, tensor<4x5xf64>) -> tensor<2x3x5xi32>
// CHECK:           graph.cast %{{.*}} : tensor<2x3x5xf64> -> tensor<2x3x5xi32>
// CHECK:         fused.conv %{{.*}}, %{{.*}} {{.*}} : (tensor<1x2x5x5xf64>, tensor<3x2x3x3xf64>) -> tensor<1x3x5x5xi32>
// CHECK-NOT:     quant.
func.func @asymmetric_integer_ops(%a: tensor<2x3x4xui8>, %b: tensor<4x5xi8>, %zb: tensor<5xi8>, %x: tensor<1x2x5x5xui8>, %w: tensor<3x2x3x3xui8>) -> (tensor<2x3x5xi32>, tensor<1x3x5x5xi32>) {
  %za = graph.constant dense<12> : tensor<ui8>
  %zx = graph.constant dense<128> : tensor<ui8>
  %zw = graph.constant dense<[3, 0, 250]> : tensor<3xui8>
  %m = quant.matmul %a, %b lhs_zero_point(%za : tensor<ui8>) rhs_zero_point(%zb : tensor<5xi8>) : (tensor<2x3x4xui8>, tensor<4x5xi8>) -> tensor<2x3x5xi32>
  %c = quant.conv %x, %w input_zero_point(%zx : tensor<ui8>) weight_zero_point(%zw : tensor<3xui8>) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x5x5xui8>, tensor<3x2x3x3xui8>) -> tensor<1x3x5x5xi32>
  func.return %m, %c : tensor<2x3x5xi32>, tensor<1x3x5x5xi32>
}
