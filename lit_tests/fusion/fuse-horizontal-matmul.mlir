// RUN: optc %s -p fuse-horizontal-matmul | filecheck %s
// RUN: optc %s -p 'fuse-horizontal-matmul{min-group=4}' | filecheck %s --check-prefix=MIN4
// RUN: optc %s -p 'fuse-horizontal-matmul{bias-adds=false}' | filecheck %s --check-prefix=NOADD
// RUN: optc %s -p fuse-horizontal-matmul,fuse-epilogue | filecheck %s --check-prefix=EPI
// Products of one activation by constant weights become one product and a split.

// Q, K, V as exporters write them: a bias add (either operand order), a bias operand, none.
// CHECK-LABEL: func.func @qkv
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 5.000000e+00, 6.000000e+00, 9.000000e+00, 1.000000e+01], [3.000000e+00, 4.000000e+00, 7.000000e+00, 8.000000e+00, 1.100000e+01, 1.200000e+01]]> : tensor<2x6xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[1.000000e-01, 2.000000e-01, -0.000000e+00, -0.000000e+00, 5.000000e-01, 6.000000e-01]> : tensor<6xf32>
// CHECK-NEXT:    %[[P:.*]] = graph.matmul %x, %[[W]], %[[B]] : (tensor<1x3x2xf32>, tensor<2x6xf32>, tensor<6xf32>) -> tensor<1x3x6xf32>
// CHECK-NEXT:    %[[Q:.*]], %[[K:.*]], %[[V:.*]] = graph.split %[[P]] {axis = 2 : i64, split = array<i64: 2, 2, 2>}
// CHECK-NEXT:    func.return %[[Q]], %[[K]], %[[V]]
// MIN4-LABEL: func.func @qkv
// MIN4-COUNT-3: graph.matmul
// MIN4-NOT:     graph.split
// The bias add stays after its slice; the bias operand goes along with its product.
// NOADD-LABEL: func.func @qkv
// NOADD:         dense<[-0.000000e+00, -0.000000e+00, -0.000000e+00, -0.000000e+00, 5.000000e-01, 6.000000e-01]>
// NOADD:         %[[Q:.*]], %{{.*}}, %{{.*}} = graph.split
// NOADD-NEXT:    graph.add %{{.*}}, %[[Q]]
// One kernel: the product, then the bias and the split in its epilogue.
// EPI-LABEL: func.func @qkv
// EPI:         %{{.*}}, %{{.*}}, %{{.*}} = fused.matmul %x
// EPI-NEXT:    ^{{.*}}(%acc: tensor<1x3x6xf32>, %[[B:.*]]: tensor<6xf32>):
// EPI-NEXT:      %[[S:.*]] = graph.add %acc, %[[B]]
// EPI-NEXT:      %[[Q:.*]], %[[K:.*]], %[[V:.*]] = graph.split %[[S]]
// EPI-NEXT:      fused.yield %[[Q]], %[[K]], %[[V]]
func.func @qkv(%x: tensor<1x3x2xf32>) -> (tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) {
  %wq = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wk = graph.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %wv = graph.constant dense<[[9.0, 10.0], [11.0, 12.0]]> : tensor<2x2xf32>
  %bq = graph.constant dense<[0.1, 0.2]> : tensor<2xf32>
  %bv = graph.constant dense<[0.5, 0.6]> : tensor<2xf32>
  %q0 = graph.matmul %x, %wq : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %q = graph.add %bq, %q0 : (tensor<2xf32>, tensor<1x3x2xf32>) -> tensor<1x3x2xf32>
  %k = graph.matmul %x, %wk : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %v = graph.matmul %x, %wv, %bv : (tensor<1x3x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  func.return %q, %k, %v : tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>
}

// Gemms with trans_b: the [N, K] weights are transposed at compile time, c becomes the bias.
// CHECK-LABEL: func.func @gemm_trans_b
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[1.000000e+00, 1.000000e+00, 2.000000e+00]> : tensor<3xf32>
// CHECK-NEXT:    %[[P:.*]] = graph.matmul %a, %[[W]], %[[B]] : (tensor<4x2xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    graph.split %[[P]] {axis = 1 : i64, split = array<i64: 2, 1>}
// CHECK-NOT:     graph.gemm
func.func @gemm_trans_b(%a: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x1xf32>) {
  %b1 = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %b2 = graph.constant dense<[[5.0, 6.0]]> : tensor<1x2xf32>
  %c1 = graph.constant dense<1.0> : tensor<1x2xf32>
  %c2 = graph.constant dense<2.0> : tensor<1xf32>
  %y1 = graph.gemm %a, %b1, %c1 {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 1 : i64} : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>) -> tensor<4x2xf32>
  %y2 = graph.gemm %a, %b2, %c2 {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 1 : i64} : (tensor<4x2xf32>, tensor<1x2xf32>, tensor<1xf32>) -> tensor<4x1xf32>
  func.return %y1, %y2 : tensor<4x2xf32>, tensor<4x1xf32>
}

// Not joined: different activations, a weight known only at run time, a scaled gemm.
// CHECK-LABEL: func.func @no_group
// CHECK-COUNT-2: graph.matmul
// CHECK-NEXT:    graph.gemm
// CHECK-NOT:     graph.split
func.func @no_group(%x: tensor<3x2xf32>, %y: tensor<3x2xf32>, %w: tensor<2x2xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
  %c = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %a = graph.matmul %x, %c : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %b = graph.matmul %x, %w : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %d = graph.gemm %y, %c {alpha = 2.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  func.return %a, %b, %d : tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>
}
