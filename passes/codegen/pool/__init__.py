"""Pools, per-channel normalisation and scans: `pool.py` is the generator (window pools),
`plane.py` the per-(n, c) kernels, `scan.py` cum_sum, `support.py` what they share."""
