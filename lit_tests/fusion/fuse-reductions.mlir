// RUN: optc %s -p fuse-reductions | filecheck %s
// RUN: optc %s -p 'fuse-reductions{prologue=false}' | filecheck %s --check-prefix=NOPRO
// RUN: optc %s -p 'fuse-reductions{epilogue=false}' | filecheck %s --check-prefix=NOEPI
// RUN: optc %s -p 'fuse-reductions{recompute_limit=0}' | filecheck %s --check-prefix=NOREC
// Each reduction-like op becomes one fused.reduction with the elementwise ops that compute
// its input (prologue) and use its result (epilogue).

// The scale and the mask before a softmax join it; the splat scale becomes a literal.
// CHECK-LABEL: func.func @softmax_scale_mask
// CHECK-NEXT:    %[[R:.*]] = fused.reduction(%s, %mask) : (tensor<2x4x8xf32>, tensor<2x1x8xf32>) -> tensor<2x4x8xf32> {
// CHECK-NEXT:    ^{{.*}}(%[[S:.*]]: tensor<2x4x8xf32>, %[[M:.*]]: tensor<2x1x8xf32>):
// CHECK-NEXT:      %[[C:.*]] = graph.constant dense<1.250000e-01> : tensor<f32>
// CHECK-NEXT:      %[[X:.*]] = graph.mul %[[S]], %[[C]]
// CHECK-NEXT:      %[[Y:.*]] = graph.add %[[X]], %[[M]]
// CHECK-NEXT:      %[[P:.*]] = graph.softmax %[[Y]] {axis = 2 : i64}
// CHECK-NEXT:      fused.yield %[[P]] : tensor<2x4x8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[R]]
// NOPRO-LABEL: func.func @softmax_scale_mask
// NOPRO:         graph.mul
// NOPRO-NEXT:    graph.add
// NOPRO-NEXT:    fused.reduction(%masked) : (tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
// NOPRO-NEXT:    ^{{.*}}(%{{.*}}: tensor<2x4x8xf32>):
// NOPRO-NEXT:      graph.softmax
// NOPRO-NEXT:      fused.yield
func.func @softmax_scale_mask(%s: tensor<2x4x8xf32>, %mask: tensor<2x1x8xf32>) -> tensor<2x4x8xf32> {
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %s, %c : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %masked = graph.add %scaled, %mask : (tensor<2x4x8xf32>, tensor<2x1x8xf32>) -> tensor<2x4x8xf32>
  %p = graph.softmax %masked {axis = 2 : i64} : tensor<2x4x8xf32>
  func.return %p : tensor<2x4x8xf32>
}

// The residual sum feeds the norm and a later add past a matmul: it joins and is yielded.
// The shift and the cast after the norm join as its epilogue.
// CHECK-LABEL: func.func @layer_norm_residual
// CHECK-NEXT:    %[[SUMO:[0-9]+]], %[[SHO:[0-9]+]], %[[HO:[0-9]+]] = fused.reduction(%x, %r, %g, %b) : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf16>) {
// CHECK:           %[[SUM:.*]] = graph.add
// CHECK-NEXT:      %[[N:.*]] = graph.layer_norm %[[SUM]]
// CHECK-NEXT:      %[[SH:.*]] = graph.add %[[N]]
// CHECK-NEXT:      %[[H:.*]] = graph.cast %[[SH]] : tensor<4x8xf32> -> tensor<4x8xf16>
// CHECK-NEXT:      fused.yield %[[SUM]], %[[SH]], %[[H]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[MM:.*]] = graph.matmul %[[SHO]], %w
// CHECK-NEXT:    %[[NEXT:.*]] = graph.add %[[SUMO]], %[[MM]]
// CHECK-NEXT:    func.return %[[NEXT]], %[[HO]]
// NOEPI-LABEL: func.func @layer_norm_residual
// NOEPI-NEXT:    %{{[0-9]+}}, %[[N:[0-9]+]] = fused.reduction(%x, %r, %g)
// NOEPI-NOT:       graph.cast
// NOEPI:         fused.yield
// NOEPI:         graph.add %[[N]], %b
// NOEPI-NEXT:    graph.cast
func.func @layer_norm_residual(%x: tensor<4x8xf32>, %r: tensor<4x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf16>) {
  %sum = graph.add %x, %r : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %n = graph.layer_norm %sum, %g {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %shifted = graph.add %n, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %half = graph.cast %shifted : tensor<4x8xf32> -> tensor<4x8xf16>
  %mm = graph.matmul %shifted, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %next = graph.add %sum, %mm : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %next, %half : tensor<4x8xf32>, tensor<4x8xf16>
}

// A cheap op two reductions read is recomputed in each, and the original goes; with
// recompute_limit=0 the first reduction yields it to the second.
// CHECK-LABEL: func.func @recompute_cheap
// CHECK-NOT:     graph.mul
// CHECK:         fused.reduction(%x)
// CHECK:           graph.mul
// CHECK-NEXT:      graph.softmax
// CHECK:         fused.reduction(%x)
// CHECK:           graph.mul
// CHECK-NEXT:      graph.log_softmax
// NOREC-LABEL: func.func @recompute_cheap
// NOREC-NEXT:    %[[Y:[0-9]+]], %{{[0-9]+}} = fused.reduction(%x) : (tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
// NOREC:           graph.softmax
// NOREC:         fused.reduction(%[[Y]])
// NOREC-NOT:       graph.mul
// NOREC:           graph.log_softmax
func.func @recompute_cheap(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c = graph.constant dense<2.0> : tensor<f32>
  %y = graph.mul %x, %c : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %a = graph.softmax %y {axis = 1 : i64} : tensor<4x8xf32>
  %b = graph.log_softmax %y {axis = 1 : i64} : tensor<4x8xf32>
  func.return %a, %b : tensor<4x8xf32>, tensor<4x8xf32>
}

// Reductions to fewer dimensions: the epilogue keeps the reduced shape (sqrt, the index
// cast); x - rms broadcasts it back up and stays outside, as does the matmul feeding both.
// CHECK-LABEL: func.func @reduce_epilogue
// CHECK-NEXT:    %[[M:.*]] = graph.matmul
// CHECK-NEXT:    %[[RMS:.*]] = fused.reduction(%[[M]]) : (tensor<4x8xf32>) -> tensor<4x1xf32> {
// CHECK:           graph.mul
// CHECK-NEXT:      graph.reduce_mean
// CHECK-NEXT:      graph.sqrt
// CHECK:         graph.sub %[[M]], %[[RMS]]
// CHECK-NEXT:    fused.reduction(%[[M]]) : (tensor<4x8xf32>) -> tensor<4xi32> {
// CHECK:           graph.arg_max
// CHECK-NEXT:      graph.cast
func.func @reduce_epilogue(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x1xf32>, tensor<4x8xf32>, tensor<4xi32>) {
  %m = graph.matmul %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %sq = graph.mul %m, %m : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %ms = graph.reduce_mean %sq {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<4x8xf32> -> tensor<4x1xf32>
  %rms = graph.sqrt %ms : tensor<4x1xf32>
  %centred = graph.sub %m, %rms : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %i = graph.arg_max %m {axis = 1 : i64, keepdims = 0 : i64, select_last_index = 0 : i64} : tensor<4x8xf32> -> tensor<4xi64>
  %i32 = graph.cast %i : tensor<4xi64> -> tensor<4xi32>
  func.return %rms, %centred, %i32 : tensor<4x1xf32>, tensor<4x8xf32>, tensor<4xi32>
}

// No reduction: nothing changes.
// CHECK-LABEL: func.func @no_reduction
// CHECK-NEXT:    graph.relu
// CHECK-NEXT:    func.return
// CHECK-NOT:   fused.
func.func @no_reduction(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.relu %x : tensor<4xf32>
  func.return %r : tensor<4xf32>
}
