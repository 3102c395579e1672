"""How `optc` and `optc-run` end on an error: one line, `<command>: error: ...`, exit status 1.

Errors optc means (`OptcError`, xDSL's diagnostics with their notes, an OS error naming the
file) print as they are. Anything else is a bug in optc: it prints as an `InternalError`,
named by where it escaped when a pass or the interpreter said (dialects/errors.py `blame`),
else as an internal error of the command. xDSL's diagnostics keep their one-line notes; the
IR it dumps as a note comes with the traceback. `--debug` or `OPTC_DEBUG=1` prints the traceback
after the line; Ctrl-C exits 130 without one.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence

from xdsl.utils.exceptions import DiagnosticException, ParseError

from dialects.errors import InternalError, OptcError

DEBUG_FLAG = "--debug"
DEBUG_HELP = "on an error, print the Python traceback after the message (also OPTC_DEBUG=1)"
INTERRUPTED = 130  # the shell's status for a process ended by SIGINT


def debugging(argv: Sequence[str] | None) -> bool:
    """--debug among the arguments, or OPTC_DEBUG set (to anything but 0): read before the
    arguments are parsed, so an error while parsing them has its traceback too."""
    args = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in args or os.environ.get("OPTC_DEBUG", "0") not in ("", "0")


def _os_error(e: OSError) -> list[str]:
    if e.filename is None:
        return [f"error: {e.strerror or e}"]
    return [f"error: cannot open '{e.filename}': {e.strerror}"]


def _diagnostic(e: Exception, debug: bool) -> list[str]:
    """The message and its one-line notes (the pass after which the IR stopped verifying);
    the IR xDSL dumps as a note comes only with --debug."""
    notes = [note for note in getattr(e, "__notes__", []) if debug or "\n" not in note.strip()]
    return [f"error: {e}", *(f"note: {note}" for note in notes)]


def _lines(e: BaseException, debug: bool) -> list[str]:
    """What the command prints for `e`, each line after `<command>: `."""
    if isinstance(e, OptcError):
        return [f"error: {e}"]
    if isinstance(e, (DiagnosticException, ParseError)):
        return _diagnostic(e, debug)
    if isinstance(e, OSError):
        return _os_error(e)
    return [f"error: {InternalError('internal error', e)}"]


def handle(
    command: str,
    body: Callable[[], int | None],
    argv: Sequence[str] | None,
) -> int:
    """Run a command's `body`; its exit status (0 when it returns None), or 1 after printing
    the error it raised."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # `optc ... | head`
        return 0
    except Exception as e:
        debug = debugging(argv)
        for line in _lines(e, debug):
            print(f"{command}: {line}", file=sys.stderr)
        if debug:
            traceback.print_exception(e, file=sys.stderr)
        return 1
