// RUN: optc %s -p 'fuse-attention{causal=true}' | filecheck %s
// RUN: optc %s -p fuse-attention | filecheck %s --check-prefix=NOCAUSAL
// RUN: optc %s -p 'fuse-attention{causal=true masks=false}' | filecheck %s --check-prefix=NOMASKS
// RUN: optc %s -p 'fuse-attention{causal=true merge-heads=false}' | filecheck %s --check-prefix=NOMERGE
// Scaled-dot-product attention as the PyTorch exporters write it becomes one fused.attention
// on [batch, heads, seq, dim]; k's transpose is absorbed, and so is the head merge that
// alone reads the result. Self-attention on one tensor (q = k = v) fuses too, at rank 3
// ([b, s, d]) and 2 through free reshapes. Near misses stay as they are.

// BERT (TorchScript): k transposed [0, 2, 3, 1] straight from [b, s, h, d] (rewritten to
// [0, 2, 1, 3]), the scores scaled by 1/sqrt(d), the extended attention mask added.
// CHECK-LABEL: func.func @bert
// CHECK-NEXT:    %[[K:.*]] = graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %[[K]], %{{.*}} mask(%{{.*}} : tensor<1x1x1x4xf32>) {scale = 0.353553385 : f32, causal = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
// NOMASKS-LABEL: func.func @bert
// NOMASKS-NOT:     fused.attention
// NOMASKS:         graph.softmax
func.func @bert(%q: tensor<1x2x4x8xf32>, %k: tensor<1x4x2x8xf32>, %v: tensor<1x2x4x8xf32>, %mask: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.353553385> : tensor<f32>
  %scaled = graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %masked = graph.add %scaled, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// GPT-2 eager: kᵀ swaps the last two axes (absorbed), divided by sqrt(d), a Where by the
// constant lower-triangular buffer (causal), then the padding mask, softmax over axis -1.
// CHECK-LABEL: func.func @gpt2_eager
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x1x4xf32>) {scale = 0.353553385 : f32, causal = 1 : i64}
// CHECK-NEXT:    func.return %[[Y]]
// NOCAUSAL-LABEL: func.func @gpt2_eager
// NOCAUSAL-NOT:     fused.attention
// NOCAUSAL:         graph.where
func.func @gpt2_eager(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %pad: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %d = graph.constant dense<2.82842708> : tensor<f32>
  %scaled = graph.div %s, %d : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %tril = graph.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %min = graph.constant dense<-3.40282347e+38> : tensor<f32>
  %causal = graph.where %tril, %scaled, %min : (tensor<1x1x4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %masked = graph.add %causal, %pad : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = -1 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// SDPA (transformers' GPT-2): one mask Where(causal and padding, 0, -inf) added; the
// constant causal term becomes causal = 1 and the mask keeps only the padding term.
// CHECK-LABEL: func.func @sdpa_causal_and_padding
// CHECK:         %[[M:.*]] = graph.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x1x1x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x1x4xf32>
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<1x1x1x4xf32>) {scale = 1.250000e-01 : f32, causal = 1 : i64}
// CHECK-NEXT:    func.return %[[Y]]
// NOCAUSAL-LABEL: func.func @sdpa_causal_and_padding
// NOCAUSAL:         %[[M:.*]] = graph.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x1x4x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x4x4xf32>
// NOCAUSAL:         fused.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<1x1x4x4xf32>) {scale = 1.250000e-01 : f32, causal = 0 : i64}
func.func @sdpa_causal_and_padding(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %pad: tensor<1x1x1x4xi1>) -> tensor<1x2x4x8xf32> {
  %tril = graph.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %keep = graph.and %tril, %pad : (tensor<1x1x4x4xi1>, tensor<1x1x1x4xi1>) -> tensor<1x1x4x4xi1>
  %zero = graph.constant dense<0.0> : tensor<f32>
  %ninf = graph.constant dense<"0x000080FF"> : tensor<f32>
  %mask = graph.where %keep, %zero, %ninf : (tensor<1x1x4x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x4x4xf32>
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %c, %s : (tensor<f32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %masked = graph.add %mask, %scaled : (tensor<1x1x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// BERT's SDPA mask: Where(all-true and padding, 0, lowest) narrows to [1, 1, 1, s] exactly,
// whatever `causal` says; a rank-2 additive mask would be reshaped to rank 4 the same way.
// CHECK-LABEL: func.func @sdpa_padding_only
// CHECK:         %[[M:.*]] = graph.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x4xf32>
// CHECK-NEXT:    %[[M4:.*]] = graph.reshape %[[M]] : tensor<1x4xf32> -> tensor<1x1x1x4xf32>
// CHECK:         fused.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M4]] : tensor<1x1x1x4xf32>) {scale = 1.250000e-01 : f32, causal = 0 : i64}
// CHECK-NOT:     graph.and
// NOCAUSAL-LABEL: func.func @sdpa_padding_only
// NOCAUSAL:         fused.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x1x4xf32>) {scale = 1.250000e-01 : f32, causal = 0 : i64}
func.func @sdpa_padding_only(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %pad: tensor<1x4xi1>) -> tensor<1x2x4x8xf32> {
  %true = graph.constant dense<true> : tensor<1x1x4x1xi1>
  %keep = graph.and %true, %pad : (tensor<1x1x4x1xi1>, tensor<1x4xi1>) -> tensor<1x1x4x4xi1>
  %zero = graph.constant dense<0.0> : tensor<f32>
  %min = graph.constant dense<-3.40282347e+38> : tensor<f32>
  %mask = graph.where %keep, %zero, %min : (tensor<1x1x4x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x4x4xf32>
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %masked = graph.add %scaled, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// SDPA's scaling of q and kᵀ by d^-0.25 each folds into one scale; an all-zero constant
// mask (ViT through dynamo) is dropped; a Mul on q that something else reads stays.
// CHECK-LABEL: func.func @scaled_q_and_k
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 0.3535533{{[0-9]+}} : f32, causal = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
// CHECK-NEXT:    func.return %[[Y]]
// NOMASKS-LABEL: func.func @scaled_q_and_k
// NOMASKS-NEXT:    fused.attention
func.func @scaled_q_and_k(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %c = graph.constant dense<0.594603557> : tensor<f32>
  %qs = graph.mul %q, %c : (tensor<1x2x4x8xf32>, tensor<f32>) -> tensor<1x2x4x8xf32>
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %ks = graph.mul %kt, %c : (tensor<1x2x8x4xf32>, tensor<f32>) -> tensor<1x2x8x4xf32>
  %s = graph.matmul %qs, %ks : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %zeros = graph.constant dense<0.0> : tensor<1x1x4x4xf32>
  %masked = graph.add %s, %zeros : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// The head merge [b, h, s, d] -> [b, s, h, d] before the reshape to [b, s, h*d]: the op
// writes its result that way (output_layout "bshd") and the transpose disappears.
// CHECK-LABEL: func.func @heads_merged
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32, causal = 0 : i64, output_layout = "bshd"} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x4x2x8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.reshape %[[Y]] : tensor<1x4x2x8xf32> -> tensor<1x4x16xf32>
// CHECK-NEXT:    func.return %[[R]]
// NOMERGE-LABEL: func.func @heads_merged
// NOMERGE-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32, causal = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
// NOMERGE-NEXT:    graph.transpose %[[Y]] {perm = array<i64: 0, 2, 1, 3>}
func.func @heads_merged(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x4x16xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %scaled {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  %t = graph.transpose %y {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x8xf32> -> tensor<1x4x2x8xf32>
  %r = graph.reshape %t : tensor<1x4x2x8xf32> -> tensor<1x4x16xf32>
  func.return %r : tensor<1x4x16xf32>
}

// A result read by the head merge and by something else keeps [b, h, s, d] and the
// transpose; so does one transposed another way.
// CHECK-LABEL: func.func @head_merge_not_alone
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32, causal = 0 : i64} : ({{.*}}) -> tensor<1x2x4x8xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %[[Y]] {perm = array<i64: 0, 2, 1, 3>}
// CHECK-NEXT:    func.return %[[T]], %[[Y]]
func.func @head_merge_not_alone(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x2x4x8xf32>) {
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %scaled {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  %t = graph.transpose %y {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x8xf32> -> tensor<1x4x2x8xf32>
  func.return %t, %y : tensor<1x4x2x8xf32>, tensor<1x2x4x8xf32>
}

// CHECK-LABEL: func.func @other_transpose
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32, causal = 0 : i64} : ({{.*}}) -> tensor<1x2x4x8xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %[[Y]] {perm = array<i64: 0, 1, 3, 2>}
// CHECK-NEXT:    func.return %[[T]]
func.func @other_transpose(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %scaled {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  %t = graph.transpose %y {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  func.return %t : tensor<1x2x8x4xf32>
}

// Near misses, unchanged: the probabilities are also returned; the mask is added before
// the scaling; the Where's condition is not lower-triangular; softmax over the queries.
// CHECK-LABEL: func.func @probs_read_elsewhere
// CHECK-NOT:     fused.attention
// CHECK:         graph.softmax
func.func @probs_read_elsewhere(%q: tensor<1x2x4x8xf32>, %kt: tensor<1x2x8x4xf32>, %v: tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>) {
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %s {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y, %p : tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>
}

// CHECK-LABEL: func.func @mask_before_scale
// CHECK-NOT:     fused.attention
// CHECK:         graph.softmax
func.func @mask_before_scale(%q: tensor<1x2x4x8xf32>, %kt: tensor<1x2x8x4xf32>, %v: tensor<1x2x4x8xf32>, %mask: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %masked = graph.add %s, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %c = graph.constant dense<0.125> : tensor<f32>
  %scaled = graph.mul %masked, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %scaled {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// CHECK-LABEL: func.func @not_causal
// CHECK-NOT:     fused.attention
// CHECK:         graph.where
func.func @not_causal(%q: tensor<1x2x4x8xf32>, %kt: tensor<1x2x8x4xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %triu = graph.constant dense<[[[[true, true, true, true], [false, true, true, true], [false, false, true, true], [false, false, false, true]]]]> : tensor<1x1x4x4xi1>
  %min = graph.constant dense<-3.40282347e+38> : tensor<f32>
  %masked = graph.where %triu, %s, %min : (tensor<1x1x4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// CHECK-LABEL: func.func @softmax_over_queries
// CHECK-NOT:     fused.attention
// CHECK:         graph.softmax
func.func @softmax_over_queries(%q: tensor<1x2x4x8xf32>, %kt: tensor<1x2x8x4xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %s = graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %s {axis = 2 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// Self-attention whose q, k and v are one tensor, with no scaling (scale 1) and an additive
// mask. At rank 3 ([b, s, d], one head) q = k = v, the mask and the result go through free
// reshapes to and from the op's [b, h, s, d] (h = 1): kᵀ = Transpose(x, [0, 2, 1]) is x
// itself, read once.
// CHECK-LABEL: func.func @self_attention_rank3
// CHECK-NEXT:    %[[M:.*]] = graph.reshape %mask : tensor<2x1x8xf32> -> tensor<2x1x1x8xf32>
// CHECK-NEXT:    %[[X:.*]] = graph.reshape %x : tensor<2x8x16xf32> -> tensor<2x1x8x16xf32>
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %[[X]], %[[X]], %[[X]] mask(%[[M]] : tensor<2x1x1x8xf32>) {scale = 1.000000e+00 : f32, causal = 0 : i64} : (tensor<2x1x8x16xf32>, tensor<2x1x8x16xf32>, tensor<2x1x8x16xf32>) -> tensor<2x1x8x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.reshape %[[Y]] : tensor<2x1x8x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    func.return %[[R]]
// CHECK-NOT:     graph.softmax
func.func @self_attention_rank3(%x: tensor<2x8x16xf32>, %mask: tensor<2x1x8xf32>) -> tensor<2x8x16xf32> {
  %xt = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x8x16xf32> -> tensor<2x16x8xf32>
  %s = graph.matmul %x, %xt : (tensor<2x8x16xf32>, tensor<2x16x8xf32>) -> tensor<2x8x8xf32>
  %masked = graph.add %s, %mask : (tensor<2x8x8xf32>, tensor<2x1x8xf32>) -> tensor<2x8x8xf32>
  %p = graph.softmax %masked {axis = -1 : i64} : tensor<2x8x8xf32>
  %y = graph.matmul %p, %x : (tensor<2x8x8xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  func.return %y : tensor<2x8x16xf32>
}

// At rank 4 q = k = v is the argument itself; a [s, s] mask broadcasts as [1, 1, s, s].
// CHECK-LABEL: func.func @self_attention_rank4
// CHECK-NEXT:    %[[M:.*]] = graph.reshape %mask : tensor<4x4xf32> -> tensor<1x1x4x4xf32>
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %x, %x, %x mask(%[[M]] : tensor<1x1x4x4xf32>) {scale = 1.000000e+00 : f32, causal = 0 : i64}
// CHECK-NEXT:    func.return %[[Y]]
// CHECK-NOT:     graph.softmax
func.func @self_attention_rank4(%x: tensor<1x2x4x8xf32>, %mask: tensor<4x4xf32>) -> tensor<1x2x4x8xf32> {
  %xt = graph.transpose %x {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = graph.matmul %x, %xt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %masked = graph.add %mask, %s : (tensor<4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = graph.softmax %masked {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %y = graph.matmul %p, %x : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  func.return %y : tensor<1x2x4x8xf32>
}

// At rank 2 ([s, d], no batch) the op sees [1, 1, s, d]. A kᵀ that is no transpose (here an
// argument) is transposed back by a new op; q and v, one tensor, share one reshape.
// CHECK-LABEL: func.func @self_attention_rank2_kt_given
// CHECK-NEXT:    %[[K:.*]] = graph.transpose %xt {perm = array<i64: 1, 0>} : tensor<8x4xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    %[[X4:.*]] = graph.reshape %x : tensor<4x8xf32> -> tensor<1x1x4x8xf32>
// CHECK-NEXT:    %[[K4:.*]] = graph.reshape %[[K]] : tensor<4x8xf32> -> tensor<1x1x4x8xf32>
// CHECK-NEXT:    %[[Y:.*]] = fused.attention %[[X4]], %[[K4]], %[[X4]] {scale = 5.000000e-01 : f32, causal = 0 : i64}
// CHECK-NEXT:    %[[R:.*]] = graph.reshape %[[Y]] : tensor<1x1x4x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @self_attention_rank2_kt_given(%x: tensor<4x8xf32>, %xt: tensor<8x4xf32>) -> tensor<4x8xf32> {
  %s = graph.matmul %x, %xt : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
  %c = graph.constant dense<2.0> : tensor<f32>
  %scaled = graph.div %s, %c : (tensor<4x4xf32>, tensor<f32>) -> tensor<4x4xf32>
  %p = graph.softmax %scaled {axis = 1 : i64} : tensor<4x4xf32>
  %y = graph.matmul %p, %x : (tensor<4x4xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %y : tensor<4x8xf32>
}

// Near misses at rank 3, unchanged: softmax over the queries; a mask that multiplies the
// scores; keys whose batch broadcasts against the queries'.
// CHECK-LABEL: func.func @self_attention_softmax_over_queries
// CHECK-NOT:     fused.attention
// CHECK:         graph.softmax
func.func @self_attention_softmax_over_queries(%x: tensor<2x8x16xf32>) -> tensor<2x8x16xf32> {
  %xt = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x8x16xf32> -> tensor<2x16x8xf32>
  %s = graph.matmul %x, %xt : (tensor<2x8x16xf32>, tensor<2x16x8xf32>) -> tensor<2x8x8xf32>
  %p = graph.softmax %s {axis = 1 : i64} : tensor<2x8x8xf32>
  %y = graph.matmul %p, %x : (tensor<2x8x8xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  func.return %y : tensor<2x8x16xf32>
}

// CHECK-LABEL: func.func @self_attention_mask_multiplies
// CHECK-NOT:     fused.attention
// CHECK:         graph.softmax
func.func @self_attention_mask_multiplies(%x: tensor<2x8x16xf32>, %mask: tensor<2x1x8xf32>) -> tensor<2x8x16xf32> {
  %xt = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x8x16xf32> -> tensor<2x16x8xf32>
  %s = graph.matmul %x, %xt : (tensor<2x8x16xf32>, tensor<2x16x8xf32>) -> tensor<2x8x8xf32>
  %masked = graph.mul %s, %mask : (tensor<2x8x8xf32>, tensor<2x1x8xf32>) -> tensor<2x8x8xf32>
  %p = graph.softmax %masked {axis = -1 : i64} : tensor<2x8x8xf32>
  %y = graph.matmul %p, %x : (tensor<2x8x8xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  func.return %y : tensor<2x8x16xf32>
}

// CHECK-LABEL: func.func @self_attention_keys_broadcast
// CHECK-NOT:     fused.attention
// CHECK:         graph.softmax
func.func @self_attention_keys_broadcast(%x: tensor<2x8x16xf32>, %k: tensor<1x8x16xf32>) -> tensor<2x8x16xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x8x16xf32> -> tensor<1x16x8xf32>
  %s = graph.matmul %x, %kt : (tensor<2x8x16xf32>, tensor<1x16x8xf32>) -> tensor<2x8x8xf32>
  %p = graph.softmax %s {axis = -1 : i64} : tensor<2x8x8xf32>
  %y = graph.matmul %p, %x : (tensor<2x8x8xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  func.return %y : tensor<2x8x16xf32>
}
