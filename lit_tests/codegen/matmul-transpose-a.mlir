// RUN: optc %s -p outline-kernels,configure-kernels -t cuda | filecheck %s
// transpose_a: lhs is stored [..., K, M] (what x @ transpose(x) or transpose(a) @ b leave
// after fuse-matmul-transpose). Each kernel loads A along its contiguous axis, M.

// Tensor cores: the A tile is staged k-major ([block_k][block_m], 16-byte cp.async along M)
// and its fragments come from ldmatrix.trans, as B's do when it is [K, N].
// CHECK:      k0_fused_matmul(
// CHECK:        optc_cp_async16(As + {{.*}}, ok ? A + o * 256 + i : A, ok ? 16 : 0);
// CHECK:        optc_ldmatrix_x4_trans(a[0][mi], As + (0 + (lane >> 4) * 8 + (lane & 7)) * 32
// CHECK:        optc_mma_f16(acc[mi][ni], a[0][mi], b[0][ni]);
// SIMT: consecutive threads read consecutive m of one k row (coalesced).
// CHECK:      k1_fused_matmul(
// CHECK:        const int e = threadIdx.x + i * {{[0-9]+}}, r = (e) % {{[0-9]+}}, kk = (e) / {{[0-9]+}};
// CHECK-NEXT:   ra[i] = {{.*}}(float)A[(int)(k0 + kk) * 100 + m0 + r]
func.func @main(%a: tensor<2x128x256xf16>, %b: tensor<2x128x64xf16>, %x: tensor<72x100xf32>, %w: tensor<72x40xf32>)
    -> (tensor<2x256x64xf16>, tensor<100x40xf32>) {
  %y = fused.matmul %a, %b {transpose_a = 1 : i64, transpose_b = 0 : i64} : (tensor<2x128x256xf16>, tensor<2x128x64xf16>) -> tensor<2x256x64xf16> {
  ^bb0(%acc: tensor<2x256x64xf16>):
    fused.yield %acc : tensor<2x256x64xf16>
  }
  %z = fused.matmul %x, %w {transpose_a = 1 : i64, transpose_b = 0 : i64} : (tensor<72x100xf32>, tensor<72x40xf32>) -> tensor<100x40xf32> {
  ^bb0(%acc: tensor<100x40xf32>):
    fused.yield %acc : tensor<100x40xf32>
  }
  func.return %y, %z : tensor<2x256x64xf16>, tensor<100x40xf32>
}
