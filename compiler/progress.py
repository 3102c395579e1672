"""A progress bar for long work (engine builds, pass pipelines, tuning), drawn by tqdm.

    with Progress("compiling kernels", total=len(sources)) as progress:
        for source in sources:
            compile(source)
            progress.advance()

The bar is drawn on stderr only when stderr is a terminal: in a pipe, a log file, CI or a
test it prints nothing, so reports and captured output stay exactly as they were. It is
erased when the work ends (the caller's report says what was done). tqdm throttles redraws,
so a fast loop costs little.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

MIN_INTERVAL_S = 0.1
"""At most ten redraws a second."""


def interactive(stream: TextIO) -> bool:
    """Whether `stream` is a terminal a person watches (False for pipes, files, captures)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


class Progress:
    """`label  done/total` as a bar on `stream` (stderr), drawn only on a terminal;
    `enabled` forces it on or off."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(stream) if enabled is None else enabled
        self._bar = tqdm(
            total=total,
            desc=label,
            file=stream,
            disable=not self.enabled or total <= 0,
            leave=False,
            mininterval=MIN_INTERVAL_S,
            dynamic_ncols=True,
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def done(self) -> int:
        return self._bar.n

    def advance(self, steps: int = 1, detail: str = "") -> None:
        """`steps` more units done; `detail` (e.g. the current pass) follows the count."""
        if detail:
            self._bar.set_postfix_str(detail, refresh=False)
        self._bar.update(steps)

    def close(self) -> None:
        """Erase the bar, leaving the terminal as it was."""
        self._bar.close()
