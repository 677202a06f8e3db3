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


def preference(distances: np.ndarray, policy: str, seed: int = 0) -> np.ndarray:
    """How much each image is wanted under ``policy`` (higher first): the order coverage fills and trims in."""
    distances = np.asarray(distances, dtype=np.float64)
    if policy == "easy":
        return -distances
    if policy == "random":
        return np.random.default_rng(seed).permutation(len(distances)).astype(np.float64)
    return distances


def cover_categories(
    kept: np.ndarray, box_counts: np.ndarray, min_boxes: int, wanted: np.ndarray
) -> tuple[np.ndarray, int]:
    """Make every category keep at least ``min_boxes`` boxes (or all it has), holding the image budget.

    ``box_counts[i, c]`` is the number of boxes of category ``c`` in image ``i``; ``wanted`` is the policy's
    preference (see :func:`preference`). Images holding a short category are added, most wanted first; then as
    many of the least wanted kept images are dropped as were added, skipping any whose loss would take a category
    below its floor. Returns the new mask and the number of images swapped in.
    """
    kept = np.asarray(kept, bool).copy()
    counts = np.asarray(box_counts, np.int64)
    floor = np.minimum(counts.sum(axis=0), min_boxes)
    order = np.argsort(-np.asarray(wanted, np.float64), kind="stable")
    added: list[int] = []
    for category in np.argsort(counts.sum(axis=0), kind="stable"):  # rarest first
        have = int(counts[kept, category].sum())
        for index in order:
            if have >= floor[category]:
                break
            if not kept[index] and counts[index, category] > 0:
                kept[index] = True
                added.append(int(index))
                have += int(counts[index, category])
    protected = set(added)
    totals = counts[kept].sum(axis=0)
    removed = 0
    for index in order[::-1]:  # least wanted first
        if removed == len(added):
            break
        if kept[index] and index not in protected and np.all(totals - counts[index] >= floor):
            kept[index] = False
            totals -= counts[index]
            removed += 1
    return kept, len(added)
