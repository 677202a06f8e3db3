"""Progress: a live tqdm bar on a terminal; in logs (CI, pipes, ``nohup``) whole lines, a start line, one at most
every :data:`LOG_EVERY` seconds and an end line; nothing with ``-q``.

tqdm redraws its bar with carriage returns, which a log file keeps: 300 pretraining steps became one line of
several kilobytes. Off a terminal, :class:`LogProgress` takes the bar's place with the same methods.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterator, Sequence, TypeVar

from tqdm import tqdm

T = TypeVar("T")
LOG_EVERY = 60.0  # seconds between progress lines in a log
log = logging.getLogger("edgeprune.progress")


class LogProgress:
    """The part of tqdm's interface edgeprune uses, written as log lines: ``desc: started (N unit)``, then
    ``desc: n/N unit (p%), r unit/s, postfix`` at most every ``every`` seconds, then ``desc: done ...``."""

    def __init__(self, total: int, desc: str, unit: str, *, initial: int = 0, every: float = LOG_EVERY) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.every, self.initial = every, initial
        self.postfix = ""
        self.started = self.last = time.monotonic()
        self.closed = False
        resumed = f", from {initial}" if initial else ""
        log.info("%s: started (%d %s%s)", desc, total, unit, resumed)

    def _line(self, state: str) -> None:
        elapsed = time.monotonic() - self.started
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        extra = f", {self.postfix}" if self.postfix else ""
        log.info(
            "%s: %s%d/%d %s%s in %.0f s, %.1f %s/s%s",
            self.desc, state, self.n, self.total, self.unit, share, elapsed, rate, self.unit, extra,
        )  # fmt: skip

    def update(self, n: int = 1) -> None:
        """Advance by ``n``; writes a line when :attr:`every` seconds passed since the last one."""
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every and self.n < self.total:
            self.last = now
            self._line("")

    def set_postfix(self, refresh: bool = True, **values) -> None:
        """Values shown at the end of the next line (a loss, say); ``refresh`` is tqdm's, unused here."""
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        """Write the end line (once)."""
        if not self.closed:
            self.closed = True
            self._line("done " if self.n >= self.total else "stopped at ")

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Off(LogProgress):
    """Progress that shows nothing (``-q``, or a short job)."""

    def __init__(self, total: int, initial: int = 0) -> None:
        self.total, self.n, self.closed = total, initial, True

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, refresh: bool = True, **values) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: int, desc: str, unit: str, *, enabled: bool = True, initial: int = 0) -> tqdm | LogProgress:
    """A tqdm bar on a terminal's stderr, :class:`LogProgress` lines elsewhere; nothing when ``enabled`` is false
    or with ``-q`` (edgeprune's log level above INFO)."""
    enabled = enabled and logging.getLogger("edgeprune").getEffectiveLevel() <= logging.INFO
    if not enabled:
        return _Off(total, initial)
    if not sys.stderr.isatty():
        return LogProgress(total, desc, unit, initial=initial)
    return tqdm(
        total=total, initial=initial, desc=desc, unit=unit, mininterval=0.2, dynamic_ncols=True, file=sys.stderr
    )


def track(items: Sequence[T], desc: str, unit: str = "img") -> Iterator[T]:
    """Iterate ``items`` with a progress bar (long dataset writes)."""
    with progress(len(items), desc, unit, enabled=len(items) >= 100) as bar:
        for item in items:
            yield item
            bar.update(1)
