"""Lowering: `fused` → `kernel`. Kernels become symbols; the host function launches them."""
