// RUN: optc %s -p plan-memory | filecheck %s
// RUN: optc %s -p "plan-memory{alignment=1024}" | filecheck %s --check-prefix=ALIGN
// Three launches: %a dies at the second (read through a free reshape), so the third's
// result reuses its bytes; the returned %c stays live to the end.

// CHECK:      func.func @main(%{{.*}}: tensor<64xf32>) -> tensor<64xf32> attributes {kernel.arena = {bytes = 512 : i64, naive = 768 : i64, lower_bound = 512 : i64, strategy = "{{.*}}"}} {
// CHECK-NEXT:   %[[A:.*]] = kernel.launch @k0(%{{.*}}) {arena_offsets = array<i64: [[OA:[0-9]+]]>}
// CHECK-NEXT:   %[[V:.*]] = graph.reshape %[[A]]
// CHECK-NEXT:   %[[B:.*]] = kernel.launch @k1(%[[V]]) {arena_offsets = array<i64: [[OB:[0-9]+]]>}
// CHECK-NEXT:   %[[C:.*]] = kernel.launch @k2(%[[B]]) {arena_offsets = array<i64: [[OA]]>}
// CHECK-NEXT:   func.return %[[C]]

// ALIGN: kernel.arena = {bytes = 2048 : i64, naive = 3072 : i64, lower_bound = 2048 : i64

kernel.func @k0(%x: tensor<64xf32>) -> tensor<64xf32> {
  %r = graph.relu %x : tensor<64xf32>
  kernel.return %r : tensor<64xf32>
}
kernel.func @k1(%x: tensor<8x8xf32>) -> tensor<64xf32> {
  %f = graph.reshape %x : tensor<8x8xf32> -> tensor<64xf32>
  kernel.return %f : tensor<64xf32>
}
kernel.func @k2(%x: tensor<64xf32>) -> tensor<64xf32> {
  %r = graph.neg %x : tensor<64xf32>
  kernel.return %r : tensor<64xf32>
}
func.func @main(%x: tensor<64xf32>) -> tensor<64xf32> {
  %a = kernel.launch @k0(%x) : (tensor<64xf32>) -> tensor<64xf32>
  %v = graph.reshape %a : tensor<64xf32> -> tensor<8x8xf32>
  %b = kernel.launch @k1(%v) : (tensor<8x8xf32>) -> tensor<64xf32>
  %c = kernel.launch @k2(%b) : (tensor<64xf32>) -> tensor<64xf32>
  func.return %c : tensor<64xf32>
}
