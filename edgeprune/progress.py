"""Progress bars: live on a terminal, a line every 30 s in logs (CI, pipes), nothing when disabled."""

from __future__ import annotations

import logging
import sys
from typing import Iterator, Sequence, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(total: int, desc: str, unit: str, *, enabled: bool = True, initial: int = 0) -> tqdm:
    """A tqdm bar on stderr that does not flood non-interactive logs; off with ``-q`` (edgeprune's log level above
    INFO)."""
    interactive = sys.stderr.isatty()
    enabled = enabled and logging.getLogger("edgeprune").getEffectiveLevel() <= logging.INFO
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        disable=not enabled,
        leave=interactive,
        mininterval=0.2 if interactive else 30.0,
        dynamic_ncols=True,
        file=sys.stderr,
    )


def track(items: Sequence[T], desc: str, unit: str = "img") -> Iterator[T]:
    """Iterate ``items`` with a progress bar (long dataset writes)."""
    with progress(len(items), desc, unit, enabled=len(items) >= 100) as bar:
        for item in items:
            yield item
            bar.update(1)
