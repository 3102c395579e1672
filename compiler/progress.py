"""A one-line progress indicator for long work (engine builds, pass pipelines, exports).

    with Progress("compiling kernels", total=len(sources)) as progress:
        for source in sources:
            compile(source)
            progress.advance()

It writes `compiling kernels 37/92` over and over on one line of stderr, and only when
stderr is a terminal: in a pipe, a log file, CI or a test it prints nothing, so reports
and captured output stay exactly as they were. The line is erased when the work ends (the
caller's report says what was done). Redraws are throttled, so a fast loop costs little.
No dependency: a carriage return and an erase-line escape are all it needs.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

ERASE_LINE = "\r\033[K"
MIN_INTERVAL_S = 0.1
"""At most ten redraws a second (the first and the last are always drawn)."""


def interactive(stream: TextIO) -> bool:
    """Whether `stream` is a terminal a person watches (False for pipes, files, captures)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


class Progress:
    """`label done/total` on one line of `stream` (stderr), drawn only on a terminal;
    `enabled` forces it on or off."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(self.stream) if enabled is None else enabled
        self._drawn_at = float("-inf")
        self._shown = False

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def advance(self, steps: int = 1, detail: str = "") -> None:
        """`steps` more units done; `detail` (e.g. the current pass) follows the count."""
        self.done += steps
        self._draw(force=self.done >= self.total, detail=detail)

    def _draw(self, force: bool = False, detail: str = "") -> None:
        if not self.enabled or self.total <= 0:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < MIN_INTERVAL_S:
            return
        self._drawn_at = now
        text = f"{self.label} {min(self.done, self.total)}/{self.total}" + (f"  {detail}" if detail else "")
        self.stream.write(ERASE_LINE + text)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Erase the line, leaving the terminal as it was."""
        if self._shown:
            self.stream.write(ERASE_LINE)
            self.stream.flush()
            self._shown = False
