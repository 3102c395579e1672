"""Execution: the numpy reference interpreter (`runtime.reference`) and, in later levels,
the CUDA runtime. The runtime knows nothing of passes."""
