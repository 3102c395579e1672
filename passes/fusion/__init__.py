"""Fusion: `graph` → `fused`. Each pass gathers graph ops into fused ops (one future kernel each)."""
