// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// RUN: optc %s -p lower-to-kernels | filecheck %s --check-prefix=LAUNCH
// Pools: one thread per output running the window loop; channels last, consecutive
// threads take consecutive channels, several per 16-byte access (f16: 8). An average
// divides by the taps inside the input (count_include_pad = 0); the max lets NaN win.
// Global pools and instance norm fold each (n, c) plane across a row of threads in
// shared memory; cum_sum walks each line in order.

// LAUNCH: kernel.func @k0_graph_max_pool{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 8}>
// LAUNCH: kernel.func @k1_graph_average_pool{{.*}}launch = #kernel.launch<tactic = grid_stride, grid = [5, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 1}>
// LAUNCH: kernel.func @k2_graph_global_average_pool{{.*}}launch = #kernel.launch<tactic = plane_rows, grid = [10, 1, 1], block = [32, 8, 1], shared = 0, tile = {planes = 8, reduce_threads = 32}>
// LAUNCH: kernel.func @k3_graph_instance_norm{{.*}}launch = #kernel.launch<tactic = channel_columns, grid = [2, 1, 1], block = [32, 8, 1], shared = 0, tile = {channels = 32, reduce_threads = 8}>
// LAUNCH: kernel.func @k4_graph_cum_sum{{.*}}launch = #kernel.launch<tactic = line_per_thread, grid = [1, 1, 1], block = [256, 1, 1], shared = 0, tile = {}>

// CHECK:      extern "C" __global__ void __launch_bounds__(256) k0_graph_max_pool(
// CHECK-NEXT:     const optc_half* __restrict__ in0,
// CHECK-NEXT:     optc_half* __restrict__ out0)
// CHECK:        const long long count = 32LL;
// CHECK:        const long long c = (r % 2LL) * 8LL; r /= 2LL;
// CHECK:        struct __align__(16) Vec { optc_half v[8]; };
// CHECK:        for (int k0 = 0; k0 < 3; ++k0) {
// CHECK-NEXT:     const long long p0 = o0 * 2LL - 1LL + k0;
// CHECK-NEXT:     if (p0 < 0 || p0 >= 8LL) continue;
// CHECK:        const Vec x = *reinterpret_cast<const Vec*>(in0 + ((n * 64LL + (p0) * 8LL + p1) * 16LL + c));
// CHECK-NEXT:   const float x0 = optc_widen(x.v[0]);
// CHECK-NEXT:   acc[0] = ((x0 > acc[0] || x0 != x0) ? x0 : acc[0]);
// CHECK:        *reinterpret_cast<Vec*>(out0 + i * 8LL) = y;

// CHECK:      k1_graph_average_pool(
// CHECK:        count0 += (p0 >= 0LL && p0 < 7LL);
// CHECK:        const float divisor = (float)(count0 * count1);
// CHECK:        out0[i] = acc[0] / divisor;

// CHECK:      __launch_bounds__(256) k2_graph_global_average_pool(
// CHECK:        __shared__ float red[256];
// CHECK:        const long long base = plane * 49LL;
// CHECK:        for (int half = lanes / 2; half > 0; half /= 2) {
// CHECK:        if (active && lane == 0) out0[plane] = total / 49.0f;

// CHECK:      k3_graph_instance_norm(
// CHECK:        const long long step = 40LL;
// CHECK:        const float mean = total / 25.0f;
// CHECK:        const float std = sqrtf(total2 / 25.0f + 9.999999747378752e-06f);
// CHECK:        out0[base + s * step] = (x - mean) / std * scale + shift;

// CHECK:      k4_graph_cum_sum(
// CHECK:        const long long base = i * 5LL;
// CHECK:        const long long at = base + (j);
// CHECK-NEXT:   sum += (unsigned long long)in0[at];
// CHECK-NEXT:   out0[at] = (long long)sum;

func.func @main(%h: tensor<1x8x8x16xf16>, %x: tensor<2x40x7x7xf32>, %n: tensor<1x5x5x40xf32>, %s: tensor<40xf32>,
                %b: tensor<40xf32>, %i: tensor<3x5xi64>)
    -> (tensor<1x4x4x16xf16>, tensor<2x40x4x4xf32>, tensor<2x40x1x1xf32>, tensor<1x5x5x40xf32>, tensor<3x5xi64>) {
  %0 = graph.max_pool %h {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, layout = "NHWC"} : tensor<1x8x8x16xf16> -> tensor<1x4x4x16xf16>
  %1 = graph.average_pool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64, count_include_pad = 0 : i64} : tensor<2x40x7x7xf32> -> tensor<2x40x4x4xf32>
  %2 = graph.global_average_pool %x : tensor<2x40x7x7xf32> -> tensor<2x40x1x1xf32>
  %3 = graph.instance_norm %n, %s, %b {epsilon = 1.0e-05 : f32, layout = "NHWC"} : (tensor<1x5x5x40xf32>, tensor<40xf32>, tensor<40xf32>) -> tensor<1x5x5x40xf32>
  %4 = graph.cum_sum %i {axis = 1 : i64, exclusive = 0 : i64, reverse = 0 : i64} : tensor<3x5xi64> -> tensor<3x5xi64>
  func.return %0, %1, %2, %3, %4 : tensor<1x4x4x16xf16>, tensor<2x40x4x4xf32>, tensor<2x40x1x1xf32>, tensor<1x5x5x40xf32>, tensor<3x5xi64>
}
