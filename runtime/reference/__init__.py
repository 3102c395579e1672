"""The numpy reference interpreter: the semantics every level and every pass is checked against."""

from runtime.reference.interpreter import run

__all__ = ["run"]
