"""Library tactics: kernels a vendor library runs (cuBLASLt), with the generated code around them."""
