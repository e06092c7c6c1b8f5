"""A progress line for a step that can take more than a few seconds (synthetic data generation, indexing a
data tree, feature extraction, window scoring, video prediction, the comparison report): what is done of how much,
the rate and the time left.

    scoring test windows: 1,200 / 4,800 windows (25%), 41.3 windows/s, ETA 87 s
    generating synthetic data: 60 / 200 clips (30%), 2.17 clips/s, ETA 64 s

On a terminal the line is rewritten in place (at most every ``every_s`` seconds); elsewhere (a log file, CI, a
pipe) a line is written once at least ``log_every_s`` seconds (60) AND ``log_share`` of the total (1%) have passed
since the last one, whichever is rarer, so a log holds at most ~100 lines of a 59-hour extraction and one line a
minute of a short step. ``close`` writes the last line
with the total time. Standard library only.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Literal

__all__ = ["ProgressLine"]


class ProgressLine:
    """One step's progress on ``stream`` (``None``: nowhere).

    Args:
        label: what is being done (``scoring test windows``).
        total: how many units the step has (``None`` when unknown: no percentage or ETA).
        unit: the unit counted (``windows``, ``clips``, ``s``).
        stream: where the line goes; the default (``"stderr"``) is ``sys.stderr`` as it is when the line is made,
            which the console shows and logs do not mix.
        every_s: the shortest interval between two lines on a terminal.
        decimals: decimals of the done / total figures (1 for seconds of video).
        log_every_s, log_share: off a terminal, the shortest interval between two lines in seconds and in the share
            of ``total`` done (ignored when ``total`` is unknown).
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        unit: str = "",
        stream: IO[str] | None | Literal["stderr"] = "stderr",
        every_s: float = 0.5,
        decimals: int = 0,
        log_every_s: float = 60.0,
        log_share: float = 0.01,
    ) -> None:
        stream = sys.stderr if stream == "stderr" else stream  # the standard error of now, not of import time
        self.label, self.total, self.unit, self.stream, self.decimals = label, total, unit, stream, decimals
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.every_s = every_s if self.tty else log_every_s
        self.every_units = 0.0 if self.tty or not total else log_share * total
        self.begin = self.shown = time.perf_counter()
        self.done, self.note, self.done_shown = 0.0, "", 0.0

    @property
    def elapsed(self) -> float:
        """Seconds since the step began."""
        return time.perf_counter() - self.begin

    @property
    def rate(self) -> float:
        """Units done per second so far."""
        return self.done / max(self.elapsed, 1e-9)

    def update(self, done: float, note: str = "") -> None:
        """Set the units done (and a note shown after the ETA); show the line if it is due."""
        self.done, self.note = done, note
        due = time.perf_counter() - self.shown >= self.every_s and done - self.done_shown >= self.every_units
        if self.stream is not None and due:
            self.shown, self.done_shown = time.perf_counter(), done
            self._write(self.text(), final=False)

    def advance(self, units: float = 1, note: str = "") -> None:
        """Add ``units`` to the units done."""
        self.update(self.done + units, note or self.note)

    def close(self, min_elapsed_s: float = 0.0) -> None:
        """The last line: units done and the total time. ``min_elapsed_s``: say nothing when the step took less and
        showed no line yet (an index read from its cache, a tree of a few videos)."""
        if self.stream is not None and (self.elapsed >= min_elapsed_s or self.shown > self.begin):
            self._write(self.text(final=True), final=True)

    def text(self, final: bool = False) -> str:
        """The line as it reads now (``final``: with the total time instead of the ETA)."""
        count = f"{self.done:,.{self.decimals}f}"
        if self.total:
            count += f" / {self.total:,.{self.decimals}f}"
        parts = [f"{self.label}: {count} {self.unit}".rstrip()]
        if self.total and not final:
            parts[0] += f" ({min(self.done / self.total, 1):.0%})"
        parts.append(self.rate_text())
        if final:
            parts.append(f"{self.elapsed:.1f} s")
        elif self.total:
            left = (self.total - self.done) / self.rate if self.rate > 0 else float("inf")
            parts.append(f"ETA {left:.0f} s")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)

    def rate_text(self) -> str:
        """The rate as the line shows it (``41.3 windows/s``)."""
        return f"{self.rate:.{2 if self.rate < 10 else 1}f} {self.unit or 'units'}/s"

    def _write(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + text.ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
