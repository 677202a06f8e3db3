"""Selection policies: scores (distance to nearest prototype) and cluster labels in, a boolean keep-mask out.

The per-cluster rule is the reference tool's: in a cluster of ``n`` images sorted by ascending distance, with prune
fraction ``f``, the first ``n - ceil((1 - f) n)`` are "easy" and the rest "hard". So ``hard`` keeps the last
``ceil(keep * n)`` of every cluster and ``easy`` keeps the first ``ceil(keep * n)``.

- ``hard``: keep the farthest (Sorscher et al.: best when data is plentiful).
- ``easy``: keep the nearest (best when data is scarce).
- ``random``: the seeded baseline, with the same per-cluster (or global) counts as ``hard``/``easy``.
- ``stratified``: exactly ``round(keep * N)`` images in all, shared across clusters in proportion to their size
  (largest remainder, at least one per cluster), hardest first within each cluster; ignores ``per_cluster``.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import EdgepruneError

POLICIES = ("hard", "easy", "random", "stratified")


def check_keep(keep: float) -> float:
    """Validate a keep fraction in (0, 1]."""
    if not (isinstance(keep, (int, float)) and 0.0 < keep <= 1.0):
        raise EdgepruneError(f"keep fraction must be in (0, 1], got {keep}")
    return float(keep)


def keep_count(n: int, keep: float) -> int:
    """``ceil(keep * n)``, robust to float noise (0.7 * 10 is 7.000000000000001)."""
    return min(n, math.ceil(round(keep * n, 9)))


def _keep_in_groups(order_key: np.ndarray, groups: list[np.ndarray], counts: list[int], farthest: bool) -> np.ndarray:
    mask = np.zeros(len(order_key), bool)
    for members, count in zip(groups, counts):
        if count <= 0:
            continue
        ranked = members[np.argsort(order_key[members], kind="stable")]
        mask[ranked[-count:] if farthest else ranked[:count]] = True
    return mask


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, bounds)


def _proportional_counts(sizes: np.ndarray, total: int) -> list[int]:
    exact = sizes * (total / sizes.sum())
    counts = np.minimum(np.maximum(np.floor(exact).astype(int), 1), sizes)
    remainder = exact - np.floor(exact)
    for index in np.argsort(-remainder, kind="stable"):
        if counts.sum() >= total:
            break
        if counts[index] < sizes[index]:
            counts[index] += 1
    return counts.tolist()


def select(
    distances: np.ndarray,
    labels: np.ndarray,
    *,
    keep: float,
    policy: str = "hard",
    per_cluster: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Boolean mask of the samples to keep; deterministic for a given ``seed``."""
    keep = check_keep(keep)
    if policy not in POLICIES:
        raise EdgepruneError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    distances = np.asarray(distances, dtype=np.float64)
    labels = np.asarray(labels)
    if distances.shape != labels.shape or distances.ndim != 1:
        raise ValueError(f"distances {distances.shape} and labels {labels.shape} must be equal 1-D shapes")
    n = len(distances)
    if policy == "stratified":
        groups = _groups(labels)
        counts = _proportional_counts(np.array([len(g) for g in groups]), max(1, round(keep * n)))
        return _keep_in_groups(distances, groups, counts, farthest=True)
    groups = _groups(labels) if per_cluster else [np.arange(n)]
    counts = [keep_count(len(g), keep) for g in groups]
    if policy == "random":
        shuffled = np.random.default_rng(seed).permutation(n).astype(np.float64)
        return _keep_in_groups(shuffled, groups, counts, farthest=False)
    return _keep_in_groups(distances, groups, counts, farthest=policy == "hard")
