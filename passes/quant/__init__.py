"""Passes over the quant dialect (`quant.*` ops)."""
