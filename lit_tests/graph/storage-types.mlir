// RUN: optc %s | optc | filecheck %s
// Storage-only element types (float8, E8M0, float4, int4, int2): constants print their
// values inline (float8 with NaN as MLIR's hex buffer), weights name them, casts carry
// ONNX's saturate (float8 targets) and round_mode (E8M0), data movement takes them.

// CHECK-LABEL: func.func @constants
func.func @constants() -> (tensor<2xf8E4M3FN>, tensor<3xf8E5M2>, tensor<2xf8E4M3FNUZ>, tensor<2xf8E5M2FNUZ>, tensor<2xf8E8M0FNU>, tensor<4xf4E2M1FN>, tensor<3xi4>, tensor<2xui4>, tensor<2xi2>, tensor<2xui2>, tensor<4x4xf8E4M3FN>) {
  // CHECK-NEXT: graph.constant dense<[1.500000e+00, -4.480000e+02]> : tensor<2xf8E4M3FN>
  %a = graph.constant dense<[1.5, -448.0]> : tensor<2xf8E4M3FN>
  // CHECK-NEXT: graph.constant dense<"0x7C7E80"> : tensor<3xf8E5M2>
  %b = graph.constant dense<"0x7C7E80"> : tensor<3xf8E5M2>
  // CHECK-NEXT: graph.constant dense<[2.400000e+02, -1.250000e-01]> : tensor<2xf8E4M3FNUZ>
  %c = graph.constant dense<[240.0, -0.125]> : tensor<2xf8E4M3FNUZ>
  // CHECK-NEXT: graph.constant dense<[5.734400e+04, -1.000000e+00]> : tensor<2xf8E5M2FNUZ>
  %d = graph.constant dense<[57344.0, -1.0]> : tensor<2xf8E5M2FNUZ>
  // CHECK-NEXT: graph.constant dense<[2.500000e-01, 1.024000e+03]> : tensor<2xf8E8M0FNU>
  %e = graph.constant dense<[0.25, 1024.0]> : tensor<2xf8E8M0FNU>
  // CHECK-NEXT: graph.constant dense<[6.000000e+00, -5.000000e-01, 1.500000e+00, 0.000000e+00]> : tensor<4xf4E2M1FN>
  %f = graph.constant dense<[6.0, -0.5, 1.5, 0.0]> : tensor<4xf4E2M1FN>
  // CHECK-NEXT: graph.constant dense<[-8, 7, -1]> : tensor<3xi4>
  %g = graph.constant dense<[-8, 7, -1]> : tensor<3xi4>
  // CHECK-NEXT: graph.constant dense<[15, 0]> : tensor<2xui4>
  %h = graph.constant dense<[15, 0]> : tensor<2xui4>
  // CHECK-NEXT: graph.constant dense<[-2, 1]> : tensor<2xi2>
  %i = graph.constant dense<[-2, 1]> : tensor<2xi2>
  // CHECK-NEXT: graph.constant dense<[3, 0]> : tensor<2xui2>
  %j = graph.constant dense<[3, 0]> : tensor<2xui2>
  // CHECK-NEXT: graph.weight "emb.weight" : tensor<4x4xf8E4M3FN>
  %w = graph.weight "emb.weight" : tensor<4x4xf8E4M3FN>
  func.return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %w : tensor<2xf8E4M3FN>, tensor<3xf8E5M2>, tensor<2xf8E4M3FNUZ>, tensor<2xf8E5M2FNUZ>, tensor<2xf8E8M0FNU>, tensor<4xf4E2M1FN>, tensor<3xi4>, tensor<2xui4>, tensor<2xi2>, tensor<2xui2>, tensor<4x4xf8E4M3FN>
}

// CHECK-LABEL: func.func @casts
func.func @casts(%x: tensor<2x4xf32>) -> (tensor<2x4xf8E4M3FN>, tensor<2x4xf8E8M0FNU>, tensor<2x4xi4>, tensor<2x4xf16>) {
  // CHECK-NEXT: %{{.*}} = graph.cast %{{.*}} {saturate = 0 : i64} : tensor<2x4xf32> -> tensor<2x4xf8E4M3FN>
  %a = graph.cast %x {saturate = 0 : i64} : tensor<2x4xf32> -> tensor<2x4xf8E4M3FN>
  // CHECK-NEXT: %{{.*}} = graph.cast %{{.*}} {saturate = 1 : i64, round_mode = "nearest"} : tensor<2x4xf32> -> tensor<2x4xf8E8M0FNU>
  %b = graph.cast %x {saturate = 1 : i64, round_mode = "nearest"} : tensor<2x4xf32> -> tensor<2x4xf8E8M0FNU>
  // CHECK-NEXT: %{{.*}} = graph.cast %{{.*}} : tensor<2x4xf32> -> tensor<2x4xi4>
  %c = graph.cast %x : tensor<2x4xf32> -> tensor<2x4xi4>
  // CHECK-NEXT: %{{.*}} = graph.cast %{{.*}} : tensor<2x4xf8E4M3FN> -> tensor<2x4xf16>
  %d = graph.cast %a : tensor<2x4xf8E4M3FN> -> tensor<2x4xf16>
  func.return %a, %b, %c, %d : tensor<2x4xf8E4M3FN>, tensor<2x4xf8E8M0FNU>, tensor<2x4xi4>, tensor<2x4xf16>
}

// CHECK-LABEL: func.func @data_movement
func.func @data_movement(%x: tensor<2x4xf8E5M2>, %i: tensor<2xi64>) -> (tensor<4x2xf8E5M2>, tensor<8xf8E5M2>, tensor<4x4xf8E5M2>, tensor<2x2xf8E5M2>, tensor<2x3xi4>) {
  // CHECK-NEXT: graph.transpose %{{.*}} {perm = array<i64: 1, 0>} : tensor<2x4xf8E5M2> -> tensor<4x2xf8E5M2>
  %t = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<2x4xf8E5M2> -> tensor<4x2xf8E5M2>
  // CHECK-NEXT: graph.reshape %{{.*}} : tensor<2x4xf8E5M2> -> tensor<8xf8E5M2>
  %r = graph.reshape %x : tensor<2x4xf8E5M2> -> tensor<8xf8E5M2>
  // CHECK-NEXT: graph.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<2x4xf8E5M2>, tensor<2x4xf8E5M2>) -> tensor<4x4xf8E5M2>
  %c = graph.concat %x, %x {axis = 0 : i64} : (tensor<2x4xf8E5M2>, tensor<2x4xf8E5M2>) -> tensor<4x4xf8E5M2>
  // CHECK-NEXT: graph.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<2x4xf8E5M2>, tensor<2xi64>) -> tensor<2x2xf8E5M2>
  %g = graph.gather %x, %i {axis = 1 : i64} : (tensor<2x4xf8E5M2>, tensor<2xi64>) -> tensor<2x2xf8E5M2>
  // CHECK-NEXT: graph.constant_of_shape {value = -3 : i4} : tensor<2x3xi4>
  %f = graph.constant_of_shape {value = -3 : i4} : tensor<2x3xi4>
  func.return %t, %r, %c, %g, %f : tensor<4x2xf8E5M2>, tensor<8xf8E5M2>, tensor<4x4xf8E5M2>, tensor<2x2xf8E5M2>, tensor<2x3xi4>
}
