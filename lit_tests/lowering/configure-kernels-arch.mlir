// RUN: optc %s -p "configure-kernels{arch=sm_80}" | filecheck %s --check-prefix=SM80
// RUN: optc %s -p "configure-kernels{arch=sm_90}" | filecheck %s --check-prefix=SM90
// RUN: optc %s -p configure-kernels | filecheck %s --check-prefix=SM90
// RUN: not optc %s -p "configure-kernels{arch=sm_75}" 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: optc %s --arch sm_80 -p configure-kernels | filecheck %s --check-prefix=SM80
// RUN: optc %s --arch sm_80 -t cuda | filecheck %s --check-prefix=CUDA80
// RUN: not optc %s --arch sm_75 -p configure-kernels 2>&1 | filecheck %s --check-prefix=UNKNOWN-FLAG
// RUN: not optc %s --arch sm_80 -p "configure-kernels{arch=sm_90}" 2>&1 | filecheck %s --check-prefix=CONFLICT
// `optc --arch` names the GPU for the whole run: configure-kernels, and -t cuda for kernels
// that have no tactic yet (here sm_80's 128 x 128 tiles, 2 x 2 warps: 128 threads).
// Kernels are configured for a GPU: `arch` names its table (sm_90 by default; an unknown
// one is refused before any pass runs). What fills the device depends on its SMs (108 on
// an A100, 132 on an H100): the 128 blocks of 128 x 64 tiles of a 1024 x 1024 product fit
// one wave on sm_90 but would take two on sm_80, which runs 64 blocks of 128 x 128 instead;
// a pointwise kernel's grid is as many blocks as are resident on every SM (8 of 256 threads).

// SM80: kernel.func @k0_matmul
// SM80-SAME: #kernel.launch<tactic = mma, grid = [64, 1, 1], block = [128, 1, 1], shared = 65536, tile = {block_k = 32, block_m = 128, block_n = 128, stages = 4, warps_m = 2, warps_n = 2}>
// SM80: kernel.func @k1_relu
// SM80-SAME: #kernel.launch<tactic = grid_stride, grid = [864, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>

// SM90: kernel.func @k0_matmul
// SM90-SAME: #kernel.launch<tactic = mma, grid = [128, 1, 1], block = [128, 1, 1], shared = 49152, tile = {block_k = 32, block_m = 128, block_n = 64, stages = 4, warps_m = 2, warps_n = 2}>
// SM90: kernel.func @k1_relu
// SM90-SAME: #kernel.launch<tactic = grid_stride, grid = [1056, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>

// UNKNOWN: optc: error: pass 'configure-kernels': unknown GPU architecture 'sm_75' (known: sm_80, sm_90)
// UNKNOWN-FLAG: optc: error: unknown GPU architecture 'sm_75' (known: sm_80, sm_90)
// CONFLICT: optc: error: the pipeline configures kernels for sm_90, but they are built for sm_80
// CUDA80: extern "C" __global__ void __launch_bounds__(128) k0_matmul(
// CUDA80: const int m0 = (tile / 8) * 128, n0 = (tile % 8) * 128;

kernel.func @k0_matmul(%a: tensor<1024x64xf16>, %b: tensor<64x1024xf16>) -> tensor<1024x1024xf16> {
  %y = graph.matmul %a, %b : (tensor<1024x64xf16>, tensor<64x1024xf16>) -> tensor<1024x1024xf16>
  kernel.return %y : tensor<1024x1024xf16>
}
kernel.func @k1_relu(%x: tensor<4194304xf32>) -> tensor<4194304xf32> {
  %r = graph.relu %x : tensor<4194304xf32>
  kernel.return %r : tensor<4194304xf32>
}
