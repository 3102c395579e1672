"""Every dialect optc parses, by name (loaded lazily, as xDSL's own registry does)."""

from collections.abc import Callable

from xdsl.ir import Dialect


def _builtin() -> Dialect:
    from xdsl.dialects.builtin import Builtin

    return Builtin


def _func() -> Dialect:
    from xdsl.dialects.func import Func

    return Func


def _graph() -> Dialect:
    from dialects.graph import Graph

    return Graph


def _fused() -> Dialect:
    from dialects.fused import Fused

    return Fused


def _quant() -> Dialect:
    from dialects.quant import Quant

    return Quant


def _kernel() -> Dialect:
    from dialects.kernel import Kernel

    return Kernel


DIALECTS: dict[str, Callable[[], Dialect]] = {
    "builtin": _builtin,
    "func": _func,
    "graph": _graph,
    "fused": _fused,
    "quant": _quant,
    "kernel": _kernel,
}


def context():
    """An xDSL Context that knows every dialect of DIALECTS (what parsing and passes need)."""
    from xdsl.context import Context

    ctx = Context()
    for name, factory in DIALECTS.items():
        ctx.register_dialect(name, factory)
    return ctx
