"""Passes over the `graph` dialect."""
