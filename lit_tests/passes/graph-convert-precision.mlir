// RUN: optc %s -p graph-convert-precision | filecheck %s
// RUN: optc %s -p 'graph-convert-precision{precision=bf16}' | filecheck %s --check-prefix=BF16
// RUN: optc %s -p 'graph-convert-precision{precision=fp32}' | filecheck %s --check-prefix=FP32
// f32 computation moves to f16 (the default) or bf16; casts make every conversion explicit
// and the function keeps its interface. fp32 changes nothing.

// Inputs are cast at the entry and outputs back before the return; constants become f16
// (-70000 saturates to -65504, the largest f16); the integer path is untouched.
// CHECK-LABEL: func.func @mlp
// CHECK-SAME:    (%x: tensor<2x4xf32>, %ids: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<2xi64>)
// CHECK-NEXT:    %[[X:.*]] = graph.cast %x : tensor<2x4xf32> -> tensor<2x4xf16>
// CHECK-NEXT:    %[[W:.*]] = graph.constant {{.*}} : tensor<4x3xf16>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[9.997560e-02, -6.550400e+04, 3.000490e-01]> : tensor<3xf16>
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %[[X]], %[[W]] : (tensor<2x4xf16>, tensor<4x3xf16>) -> tensor<2x3xf16>
// CHECK-NEXT:    %[[A:.*]] = graph.add %[[M]], %[[B]] : (tensor<2x3xf16>, tensor<3xf16>) -> tensor<2x3xf16>
// CHECK-NEXT:    %[[S:.*]] = graph.softmax %[[A]] {axis = -1 : i64} : tensor<2x3xf16>
// CHECK-NEXT:    %[[Y:.*]] = graph.cast %[[S]] : tensor<2x3xf16> -> tensor<2x3xf32>
// CHECK-NEXT:    %[[J:.*]] = graph.add %ids, %ids : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
// CHECK-NEXT:    func.return %[[Y]], %[[J]] : tensor<2x3xf32>, tensor<2xi64>
// BF16-LABEL: func.func @mlp
// BF16-SAME:     (%x: tensor<2x4xf32>, %ids: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<2xi64>)
// BF16-NEXT:    %[[X:.*]] = graph.cast %x : tensor<2x4xf32> -> tensor<2x4xbf16>
// BF16:         graph.matmul %[[X]], %{{.*}} : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
// BF16:         %[[S:.*]] = graph.softmax %{{.*}} {axis = -1 : i64} : tensor<2x3xbf16>
// BF16-NEXT:    %[[Y:.*]] = graph.cast %[[S]] : tensor<2x3xbf16> -> tensor<2x3xf32>
// BF16:         func.return %[[Y]]
// FP32-LABEL: func.func @mlp
// FP32-NOT:     graph.cast
// FP32-NOT:     f16
// FP32:         graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
func.func @mlp(%x: tensor<2x4xf32>, %ids: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<2xi64>) {
  %w = graph.constant dense<[[1.0, -2.0, 3.0], [0.5, 3.0, 1.0], [2.0, 1.0, 1.0], [-1.0, 0.25, 4.0]]> : tensor<4x3xf32>
  %b = graph.constant dense<[0.1, -70000.0, 0.3]> : tensor<3xf32>
  %m = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %a = graph.add %m, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %y = graph.softmax %a {axis = -1 : i64} : tensor<2x3xf32>
  %j = graph.add %ids, %ids : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  func.return %y, %j : tensor<2x3xf32>, tensor<2xi64>
}

// Running sums stay f32 (they make positions): their operand is cast up, their result down.
// CHECK-LABEL: func.func @running_sum
// CHECK-NEXT:    %[[X:.*]] = graph.cast %x : tensor<2x5xf32> -> tensor<2x5xf16>
// CHECK-NEXT:    %[[S:.*]] = graph.sigmoid %[[X]] : tensor<2x5xf16>
// CHECK-NEXT:    %[[UP:.*]] = graph.cast %[[S]] : tensor<2x5xf16> -> tensor<2x5xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.cum_sum %[[UP]] {{.*}} : tensor<2x5xf32> -> tensor<2x5xf32>
// CHECK-NEXT:    %[[DOWN:.*]] = graph.cast %[[C]] : tensor<2x5xf32> -> tensor<2x5xf16>
// CHECK-NEXT:    %[[Y:.*]] = graph.mul %[[DOWN]], %[[S]] : (tensor<2x5xf16>, tensor<2x5xf16>) -> tensor<2x5xf16>
// CHECK-NEXT:    %[[R:.*]] = graph.cast %[[Y]] : tensor<2x5xf16> -> tensor<2x5xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @running_sum(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %s = graph.sigmoid %x : tensor<2x5xf32>
  %c = graph.cum_sum %s {axis = 1 : i64, exclusive = 0 : i64, reverse = 0 : i64} : tensor<2x5xf32> -> tensor<2x5xf32>
  %y = graph.mul %c, %s : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  func.return %y : tensor<2x5xf32>
}

// A cast to f32 becomes a cast to f16, and disappears where its input already is f16; a
// layer norm's statistics stay f32 (its `infer` says so); clip bounds follow the element
// type, saturated (f32's lowest becomes f16's).
// CHECK-LABEL: func.func @casts_and_statistics
// CHECK-NEXT:    %[[X:.*]] = graph.cast %x : tensor<2x8xf32> -> tensor<2x8xf16>
// CHECK-NEXT:    %[[SCALE:.*]] = graph.constant dense<2.000000e+00> : tensor<8xf16>
// CHECK-NEXT:    %[[N:.*]] = graph.cast %n : tensor<2x8xi64> -> tensor<2x8xf16>
// CHECK-NEXT:    %[[S:.*]] = graph.add %h, %[[N]] : (tensor<2x8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
// CHECK-NEXT:    %[[T:.*]] = graph.add %[[S]], %[[X]]
// CHECK-NEXT:    %[[Y:.*]], %[[MEAN:.*]], %{{.*}} = graph.layer_norm %[[T]], %[[SCALE]] {{.*}} -> tensor<2x8xf16>, tensor<2x1xf32>, tensor<2x1xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.clip %[[Y]] {min = -6.550400e+04 : f16, max = 6.000000e+00 : f16} : tensor<2x8xf16>
// CHECK-NEXT:    %[[R:.*]] = graph.cast %[[C]] : tensor<2x8xf16> -> tensor<2x8xf32>
// CHECK-NEXT:    func.return %[[R]], %[[MEAN]] : tensor<2x8xf32>, tensor<2x1xf32>
// BF16-LABEL: func.func @casts_and_statistics
// BF16:         %[[HX:.*]] = graph.cast %h : tensor<2x8xf16> -> tensor<2x8xbf16>
// BF16:         graph.add %[[HX]]
// BF16:         graph.clip %{{.*}} {min = -3.389530e+38 : bf16, max = 6.000000e+00 : bf16} : tensor<2x8xbf16>
// FP32-LABEL: func.func @casts_and_statistics
// FP32:         graph.clip %y {min = -3.40282347e+38 : f32, max = 6.000000e+00 : f32} : tensor<2x8xf32>
func.func @casts_and_statistics(%x: tensor<2x8xf32>, %h: tensor<2x8xf16>, %n: tensor<2x8xi64>) -> (tensor<2x8xf32>, tensor<2x1xf32>) {
  %scale = graph.constant dense<2.0> : tensor<8xf32>
  %hx = graph.cast %h : tensor<2x8xf16> -> tensor<2x8xf32>
  %nx = graph.cast %n : tensor<2x8xi64> -> tensor<2x8xf32>
  %s = graph.add %hx, %nx : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %t = graph.add %s, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y, %mean, %inv = graph.layer_norm %t, %scale {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>
  %c = graph.clip %y {min = -3.4028234663852886e+38 : f32, max = 6.0 : f32} : tensor<2x8xf32>
  func.return %c, %mean : tensor<2x8xf32>, tensor<2x1xf32>
}

// Quant ops convert on their float side: a quantize reads f16, a dequantize produces f16;
// scales stay f32 constants (the verifiers and the reference take them beside f16 values,
// and the integer epilogue's s_x * s_w stays exact); the i8 weight is untouched.
// CHECK-LABEL: func.func @qdq
// CHECK-NEXT:    %[[X:.*]] = graph.cast %x : tensor<2x16xf32> -> tensor<2x16xf16>
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<2.500000e-02> : tensor<f32>
// CHECK-NEXT:    %[[Q:.*]] = quant.quantize %[[X]] scale(%[[S]] : tensor<f32>) : tensor<2x16xf16> -> tensor<2x16xi8>
// CHECK-NEXT:    %[[D:.*]] = quant.dequantize %[[Q]] scale(%[[S]] : tensor<f32>) : tensor<2x16xi8> -> tensor<2x16xf16>
// CHECK-NEXT:    %[[WS:.*]] = graph.constant dense<{{.*}}> : tensor<16xf32>
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<3> : tensor<16x16xi8>
// CHECK-NEXT:    %[[WD:.*]] = quant.dequantize %[[W]] scale(%[[WS]] : tensor<16xf32>) {axis = 1 : i64} : tensor<16x16xi8> -> tensor<16x16xf16>
// CHECK-NEXT:    %[[M:.*]] = graph.matmul %[[D]], %[[WD]] : (tensor<2x16xf16>, tensor<16x16xf16>) -> tensor<2x16xf16>
// CHECK-NEXT:    %[[Y:.*]] = graph.cast %[[M]] : tensor<2x16xf16> -> tensor<2x16xf32>
// CHECK-NEXT:    func.return %[[Y]] : tensor<2x16xf32>
// BF16-LABEL: func.func @qdq
// BF16:         quant.quantize %{{.*}} scale(%{{.*}} : tensor<f32>) : tensor<2x16xbf16> -> tensor<2x16xi8>
// BF16:         quant.dequantize %{{.*}} : tensor<2x16xi8> -> tensor<2x16xbf16>
func.func @qdq(%x: tensor<2x16xf32>) -> tensor<2x16xf32> {
  %s = graph.constant dense<0.025> : tensor<f32>
  %q = quant.quantize %x scale(%s : tensor<f32>) : tensor<2x16xf32> -> tensor<2x16xi8>
  %d = quant.dequantize %q scale(%s : tensor<f32>) : tensor<2x16xi8> -> tensor<2x16xf32>
  %ws = graph.constant dense<0.01> : tensor<16xf32>
  %wfull = graph.constant dense<3> : tensor<16x16xi8>
  %wd = quant.dequantize %wfull scale(%ws : tensor<16xf32>) {axis = 1 : i64} : tensor<16x16xi8> -> tensor<16x16xf32>
  %m = graph.matmul %d, %wd : (tensor<2x16xf32>, tensor<16x16xf32>) -> tensor<2x16xf32>
  func.return %m : tensor<2x16xf32>
}
