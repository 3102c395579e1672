"""Bundled example models (`python examples/models.py` writes them) and the quick start."""
