"""Elementwise kernels: `fused.elementwise` and lone elementwise/activation ops (`elementwise.py`)."""
