"""The exceptions users see from optc: a sentence that names the cause.

`OptcError` is an error optc means (bad model, bad IR, unsupported op). Anything else that
escapes a pass or the reference interpreter is a bug in optc; `blame` turns it into an
`InternalError` that says where it escaped (the pass, the op), so the commands can print
one line instead of a traceback (compiler/errors.py prints them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from xdsl.utils.exceptions import DiagnosticException, ParseError


class OptcError(Exception):
    """A user-facing error: bad model, bad IR, unsupported op. Printed without a traceback."""


class InternalError(OptcError):
    """An exception optc did not expect, named by where it escaped; the original is its
    `__cause__` (the traceback `--debug` prints)."""

    def __init__(self, where: str, error: BaseException):
        lines = str(error).strip().splitlines() or [""]
        message = lines[0] + (" ..." if len(lines) > 1 else "")
        super().__init__(
            f"{where}: {type(error).__name__}: {message} (this is a bug in optc; rerun with --debug for the traceback)"
        )


MEANT = (OptcError, DiagnosticException, ParseError, OSError)
"""Errors that already say what is wrong in words: xDSL's diagnostics (a pass that cannot
apply, IR that does not verify) and an OS error on a file pass `blame` unchanged."""


@contextmanager
def blame(where: Callable[[], str | None], meant: tuple[type[Exception], ...] = MEANT) -> Iterator[None]:
    """Turn an exception from the body that is not `meant` into an `InternalError` at
    `where()` (None: nothing to blame, let it through)."""
    try:
        yield
    except meant:
        raise
    except Exception as e:
        place = where()
        if place is None:
            raise
        raise InternalError(place, e) from e


def pass_failed(name: str) -> str:
    """`blame`'s words for an exception that escapes a pass run on IR that verified."""
    return f"pass '{name}' failed on valid IR"
