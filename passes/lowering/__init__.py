"""Lowering: `fused` → `kernel`. Kernels become symbols, the host function launches them
(`outline-kernels`), and each kernel gets its launch configuration (`configure-kernels`)."""
