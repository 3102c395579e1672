// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// Movement kernels declare only what they use (CI fails on any NVRTC warning): a
// gather_elements takes its coordinate along the axis from the index, so that coordinate
// is not computed; a slice with no elements is a kernel with an empty body (its index
// math would divide by the zero extent).

// CHECK:      k0_graph_gather_elements(
// CHECK:        const unsigned int c0 = (i / 2U);
// CHECK-NOT:    c1
// CHECK:        out0[i] = in0[(c0 * 7U) + (unsigned int)q * 1U];

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k1_graph_slice(
// CHECK-NEXT:     const unsigned int* __restrict__ in0,
// CHECK-NEXT:     unsigned int* __restrict__ out0)
// CHECK-NEXT: {
// CHECK-NEXT: }
func.func @main(%x: tensor<5x7xf32>, %k: tensor<5x2xi64>) -> (tensor<5x2xf32>, tensor<0x7xf32>) {
  %ge = graph.gather_elements %x, %k {axis = 1 : i64} : (tensor<5x7xf32>, tensor<5x2xi64>) -> tensor<5x2xf32>
  %s = graph.slice %x {starts = array<i64: 5, 0>, steps = array<i64: 1, 1>} : tensor<5x7xf32> -> tensor<0x7xf32>
  func.return %ge, %s : tensor<5x2xf32>, tensor<0x7xf32>
}
