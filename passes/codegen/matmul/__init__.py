"""Matrix products: `matmul.py` is the generator; `problem.py` the problem and its epilogue,
`simt.py` fp32 tiles, `mma.py` tensor-core tiles, `vector.py` vectorised epilogue stores."""
