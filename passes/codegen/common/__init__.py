"""What every family shares: C types and the prelude (`types.py`), 2-byte and sub-byte float
storage (`low_precision.py`), the op → C expression table (`pointwise_templates.py`), the
epilogue printer of matrix kernels (`epilogue.py`) and the mma.sync/ldmatrix/cp.async helpers
(`mma.py`)."""
