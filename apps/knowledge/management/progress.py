"""A terminal progress bar for the knowledge commands (a plain line per step when not a TTY)."""

from __future__ import annotations

import time

from django.core.management.base import OutputWrapper


class ProgressBar:
    """Draw ``label [#####.....] done/total`` on one line, redrawn at most ten times a second."""

    def __init__(self, stream: OutputWrapper, label: str, *, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self._last = 0.0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not finished and now - self._last < (0.1 if self._tty else 2.0):
            return
        self._last = now
        filled = int(self.width * done / total) if total else self.width
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if finished else ""), ending="")
        else:
            self.stream.write(line)
        self.stream.flush()
