"""Data movement: `movement.py` is the generator; `skeleton.py` the index-map kernel every op
shares, `transpose.py`, `index.py` (gathers, scatters) and `resize.py` the ops with their own."""
