"""The array API (the reference tool's second mode): prune any sample matrix by prototype distance.

    from edgeprune import prune
    kept, pruned = prune(X, keep=0.7, policy="hard", clusters=10, return_="both")

A thin function over :class:`edgeprune.curation.prototype_scorer.PrototypeScorer`. Per cluster, samples are sorted
by ascending distance to the nearest prototype; with ``n`` samples and kept fraction ``keep``, ``hard`` keeps the
``ceil(keep * n)`` farthest and ``easy`` the ``ceil(keep * n)`` nearest (the reference rule). Index computation is
one sort per cluster, O(n log n). The names of earlier versions (``fraction`` pruned, ``mode``, ``random_state``)
still work, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from .curation.prototype_scorer import FEATURE_POLICIES, PrototypeScorer
from .errors import EdgepruneError

RETURNS = ("in", "out", "both")


def prune(
    X: np.ndarray | str | Path,
    *,
    keep: float | None = None,
    policy: str = "hard",
    method: str = "kmeans",
    clusters: int | str = 10,
    return_: str = "in",
    seed: int = 0,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
    normalize: bool = False,
    fit_rows: int | None = None,
    fraction: float | None = None,
    mode: str | None = None,
    random_state: int | None = None,
):
    """Indices of the samples kept ("in") and/or pruned ("out"), sorted ascending.

    ``keep`` is the kept fraction in (0, 1]; ``policy`` one of ``PrototypeScorer``'s policies (``hard``, ``easy``,
    ``random``, ``coreset``, ...); ``embed`` maps ``X`` to embeddings first (e.g. a backbone); ``clusters`` is an
    int, ``"auto"`` (Growing Neural Gas) or ``"auto:silhouette"``. ``X`` may be a path to a ``.npy`` file (or a
    ``np.memmap``): it is memory-mapped, fitted on ``fit_rows`` sampled rows and scored a block at a time, so a
    matrix larger than memory works. Deprecated: ``fraction`` (the pruned share, ``1 - keep``), ``mode``
    (``policy``) and ``random_state`` (``seed``).
    """
    keep = _keep(keep, fraction)
    policy = _renamed("mode", mode, "policy", policy, "hard")
    seed = _renamed("random_state", random_state, "seed", seed, 0)
    if return_ not in RETURNS:
        raise EdgepruneError(f"return_ must be one of {', '.join(RETURNS)}, got {return_!r}")
    if isinstance(X, (str, Path)):
        X = _memory_mapped(Path(X))
    features = embed(X) if embed is not None else X
    scorer = PrototypeScorer(method=method, clusters=clusters, normalize=normalize, seed=seed, fit_rows=fit_rows)
    scorer.fit(features)
    # fit scored every sample: select on those scores rather than score them all again (only the policies that read
    # the samples themselves need them)
    kept = scorer.select(features if policy in FEATURE_POLICIES else None, keep=keep, policy=policy)
    inside, outside = np.flatnonzero(kept), np.flatnonzero(~kept)
    return {"in": inside, "out": outside, "both": (inside, outside)}[return_]


def _memory_mapped(path: Path) -> np.memmap:
    """A ``.npy`` file mapped read-only: its rows are read as they are scored, never all at once."""
    try:
        X = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise EdgepruneError(f"{path}: not a readable .npy matrix ({exc})") from None
    if not isinstance(X, np.memmap):
        raise EdgepruneError(f"{path}: holds no array that can be memory-mapped (object arrays cannot)")
    return X


def _keep(keep: float | None, fraction: float | None) -> float:
    """The kept fraction from ``keep``, or from the deprecated prune ``fraction``."""
    if fraction is None:
        if keep is None:
            raise EdgepruneError("prune needs keep, the fraction of samples to keep, in (0, 1]")
        return keep
    if keep is not None:
        raise EdgepruneError("give keep or the deprecated fraction, not both")
    warnings.warn("prune(fraction=f) is deprecated: use keep=1 - f", DeprecationWarning, stacklevel=3)
    if not 0.0 <= fraction < 1.0:
        raise EdgepruneError(f"prune fraction must be in [0, 1), got {fraction}")
    return 1.0 - fraction


def _renamed(old: str, old_value, new: str, new_value, default):
    """``new_value``, or the deprecated ``old`` parameter's value when it is given (and ``new`` is not)."""
    if old_value is None:
        return new_value
    if new_value != default:
        raise EdgepruneError(f"give {new} or the deprecated {old}, not both")
    warnings.warn(f"prune({old}=...) is deprecated: use {new}=...", DeprecationWarning, stacklevel=3)
    return old_value
