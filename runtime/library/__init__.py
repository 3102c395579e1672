"""Vendor-library tactics: calls into CUDA libraries that an engine runs beside its own kernels."""
