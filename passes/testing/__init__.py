"""Passes for tests only (`TEST_PASSES` in passes/registry.py)."""
