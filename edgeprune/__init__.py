"""edgeprune: smaller detection training sets by self-supervised prototype pruning, and edge detectors from them."""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    # The array API is imported lazily so `edgeprune --help` does not pay for numpy/sklearn imports.
    if name == "prune":
        from .array_api import prune

        return prune
    raise AttributeError(f"module 'edgeprune' has no attribute {name!r}")
