"""Reduction kernels: `fused.reduction`, softmax, log_softmax, layer_norm, reduce_*, arg_*.
`reduction.py` is the generator; `ops.py` says what each op computes, `skeleton.py` the loops."""
