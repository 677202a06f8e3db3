"""Selection policies: scores (distance to nearest prototype), cluster labels, and where a policy needs them the
embeddings and per-image box counts in; a boolean keep-mask out. Every policy is a pure function of these.

The per-cluster rule is the reference tool's: in a cluster of ``n`` images sorted by ascending distance, with prune
fraction ``f``, the first ``n - ceil((1 - f) n)`` are "easy" and the rest "hard". So ``hard`` keeps the last
``ceil(keep * n)`` of every cluster and ``easy`` keeps the first ``ceil(keep * n)``. With many small clusters the
``ceil`` adds up (BCCD at 25% kept 26.8%); ``exact=True`` instead keeps exactly ``round(keep * N)`` images in all,
shared across clusters in proportion to their sizes (largest remainder), so every policy keeps the same count.

- ``hard``: keep the farthest from their prototype (Sorscher et al.: best when data is plentiful).
- ``easy``: keep the nearest (best when data is scarce).
- ``random``: the seeded baseline, with the same per-cluster (or global) counts as ``hard``/``easy``.
- ``stratified``: exactly ``round(keep * N)`` images, shared across clusters in proportion to their size (at least
  one per cluster while the budget allows), hardest first within each cluster; ignores ``per_cluster``.
- ``coreset``: k-center greedy on the embeddings (Sener & Savarese 2018): start from a seeded random image, then
  repeatedly keep the image farthest from everything kept so far. Maximises coverage of the embedding space, so
  near-copies are the first to go; the diversity baseline of the active-learning literature. Global, exact count,
  O(N x kept) distance evaluations in batched matrix products.
- ``balanced``: keep the per-category box counts as even as the data allows: repeatedly take the category with the
  fewest kept boxes and keep its hardest remaining image. For long-tailed data at small budgets, where rare classes
  would otherwise vanish. Global, exact count.
- ``typical``, ``probcover``, ``ccs``, ``zcore``: the coverage policies of :mod:`.coverage` (TypiClust, ProbCover,
  coverage-centric coreset selection over the prototype distance, ZCore). Global, exact count.
- ``diversity``: ``select``'s greedy with no labelled set (:mod:`.diversity`): k-center greedy from the first
  image, never a near-copy (cosine >= 0.95) of a pick; with ``groups``, every group a pick before any gets a second.
  Global, exact count (fewer when only near-copies are left).
- ``stride``: every n-th image in the dataset's order (within each group, with ``groups``: every n-th frame of each
  video), at a seeded phase: what people do by hand with video. Global, exact count.

``groups`` (a video or clip per image) deals a policy's preference order round-robin over the groups, so no group
gets a second image before every group has one; it makes ``hard``, ``easy`` and ``random`` global and exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import EdgepruneError
from .coverage import (
    ccs_order,
    deal_by_group,
    order_from_scores,
    probcover_order,
    purity_delta,
    typical_order,
    zcore_scores,
)
from .diversity import diversity_selection

POLICIES = (
    "hard", "easy", "random", "stratified", "coreset", "balanced", "typical", "probcover", "ccs", "zcore", "stride",
    "diversity",
)  # fmt: skip
COVERAGE_POLICIES = ("typical", "probcover", "ccs", "zcore")
EMBEDDING_POLICIES = ("coreset", "diversity", *COVERAGE_POLICIES)  # they read the embeddings, not only the scores
GLOBAL_POLICIES = ("stratified", "coreset", "balanced", "stride", "diversity", *COVERAGE_POLICIES)  # exact counts
GROUPED_POLICIES = ("hard", "easy", "random", "stride", "diversity", *COVERAGE_POLICIES)  # can spread over groups


@dataclass(frozen=True)
class CoverageSettings:
    """The coverage policies' parameters (the papers' defaults): ProbCover's ball radius (None: the largest whose
    balls stay ``purity`` pure over the clusters), CCS's hardest share dropped and its strata count."""

    delta: float | None = None
    purity: float = 0.95
    beta: float = 0.1
    strata: int = 50


def check_keep(keep: float) -> float:
    """Validate a keep fraction in (0, 1]."""
    if not (isinstance(keep, (int, float)) and 0.0 < keep <= 1.0):
        raise EdgepruneError(f"keep fraction must be in (0, 1], got {keep}")
    return float(keep)


def keep_count(n: int, keep: float) -> int:
    """``ceil(keep * n)``, robust to float noise (0.7 * 10 is 7.000000000000001)."""
    return min(n, math.ceil(round(keep * n, 9)))


def exact_count(n: int, keep: float) -> int:
    """``round(keep * n)`` (half up), at least 1 and at most ``n``."""
    return min(n, max(1, math.floor(round(keep * n, 9) + 0.5)))


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


def proportional_counts(sizes: np.ndarray, total: int, *, at_least_one: bool = False) -> list[int]:
    """Split ``total`` across groups of ``sizes`` in proportion (largest remainder); the counts sum to ``total``.

    ``at_least_one`` gives every group one first when ``total`` covers every group, and shares the rest.
    """
    sizes = np.asarray(sizes, np.int64)
    total = int(min(total, sizes.sum()))
    base = np.ones_like(sizes) if at_least_one and total >= len(sizes) else np.zeros_like(sizes)
    room, rest = sizes - base, total - int(base.sum())
    share = room * (rest / room.sum()) if room.sum() else np.zeros(len(sizes))
    counts = np.floor(share).astype(np.int64)
    for index in np.argsort(-(share - counts), kind="stable")[: rest - int(counts.sum())]:
        counts[index] += 1  # a group with a remainder has room for one more
    return (base + counts).tolist()


def k_center_greedy(features: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices of ``count`` samples chosen by k-center greedy (farthest-point sampling), in the order chosen."""
    X = np.ascontiguousarray(features, np.float32)
    n = len(X)
    count = min(count, n)
    squared_norms = np.einsum("ij,ij->i", X, X)
    first = int(np.random.default_rng(seed).integers(n))
    chosen = np.empty(count, np.int64)
    chosen[0] = first
    nearest = np.maximum(squared_norms - 2 * X @ X[first] + squared_norms[first], 0)
    for step in range(1, count):
        index = int(np.argmax(nearest))
        chosen[step] = index
        np.minimum(nearest, np.maximum(squared_norms - 2 * X @ X[index] + squared_norms[index], 0), out=nearest)
        nearest[index] = -1.0  # never again, even where float rounding leaves a tiny distance
    return chosen


def balanced_selection(box_counts: np.ndarray, distances: np.ndarray, count: int) -> np.ndarray:
    """Mask of ``count`` images keeping per-category box counts as even as possible, hardest first per category.

    Water-filling: the category with the fewest kept boxes (ties: the rarer one in the data) gets its hardest
    image not yet kept. Images without boxes come last, hardest first, once every category is exhausted.
    """
    counts = np.asarray(box_counts, np.int64)
    n, n_categories = counts.shape
    count = min(count, n)
    kept = np.zeros(n, bool)
    hardest_first = np.argsort(-np.asarray(distances, np.float64), kind="stable")
    queues = [hardest_first[counts[hardest_first, c] > 0] for c in range(n_categories)]
    position = np.zeros(n_categories, np.int64)
    have = np.zeros(n_categories, np.float64)
    rarity = counts.sum(axis=0) / max(1, counts.sum())  # tie-break: rarer first
    taken = 0
    while taken < count:
        open_ = np.array([position[c] < len(queues[c]) for c in range(n_categories)], bool)
        if not open_.any():
            break
        category = int(np.argmin(np.where(open_, have + rarity * 1e-6, np.inf)))
        queue = queues[category]
        while position[category] < len(queue) and kept[queue[position[category]]]:
            position[category] += 1
        if position[category] == len(queue):
            continue
        index = queue[position[category]]
        kept[index] = True
        have += counts[index]
        taken += 1
    if taken < count:
        rest = hardest_first[~kept[hardest_first]][: count - taken]
        kept[rest] = True
    return kept


def select(
    distances: np.ndarray,
    labels: np.ndarray,
    *,
    keep: float,
    policy: str = "hard",
    per_cluster: bool = True,
    seed: int = 0,
    exact: bool = False,
    count: int | None = None,
    features: np.ndarray | None = None,
    box_counts: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    coverage: CoverageSettings | None = None,
) -> np.ndarray:
    """Boolean mask of the samples to keep; deterministic for a given ``seed``.

    ``count`` (implies ``exact``) sets the number kept directly, e.g. a share of a larger input that deduplication
    shrank. ``coreset``, ``typical``, ``probcover`` and ``zcore`` need ``features`` (the embeddings), ``balanced``
    needs ``box_counts`` (images x categories). ``groups`` (one label per sample) deals the policy's order
    round-robin over the groups.
    """
    keep = check_keep(keep)
    if policy not in POLICIES:
        raise EdgepruneError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    distances = np.asarray(distances, dtype=np.float64)
    labels = np.asarray(labels)
    if distances.shape != labels.shape or distances.ndim != 1:
        raise ValueError(f"distances {distances.shape} and labels {labels.shape} must be equal 1-D shapes")
    n = len(distances)
    exact = exact or count is not None
    total = min(n, count) if count is not None else exact_count(n, keep)
    if groups is not None and policy not in GROUPED_POLICIES:
        raise ValueError(f"groups work with the policies {', '.join(GROUPED_POLICIES)}, not {policy!r}")
    if policy == "stride":
        return stride_selection(n, total, groups, seed)
    if policy == "diversity":
        if features is None or len(features) != n:
            raise ValueError("the diversity policy needs one embedding per sample (features)")
        return diversity_selection(np.asarray(features, np.float32), total, groups)
    if policy in COVERAGE_POLICIES or groups is not None:
        order = preference_order(policy, distances, labels, total, seed, features, coverage or CoverageSettings())
        if groups is not None:
            order = deal_by_group(order, np.asarray(groups))
        mask = np.zeros(n, bool)
        mask[order[:total]] = True
        return mask
    if policy in ("coreset", "balanced", "stratified"):
        return _global_selection(policy, distances, labels, total, seed, features, box_counts)
    return _cluster_selection(policy, distances, labels, keep, total, per_cluster, exact, seed)


def _global_selection(policy, distances, labels, total: int, seed: int, features, box_counts) -> np.ndarray:
    """``coreset``, ``balanced`` and ``stratified``: exactly ``total`` images over the whole dataset."""
    n = len(distances)
    if policy == "coreset":
        if features is None or len(features) != n:
            raise ValueError("the coreset policy needs one embedding per sample (features)")
        mask = np.zeros(n, bool)
        mask[k_center_greedy(features, total, seed)] = True
        return mask
    if policy == "balanced":
        if box_counts is None or len(box_counts) != n:
            raise ValueError("the balanced policy needs per-image box counts per category (box_counts)")
        return balanced_selection(box_counts, distances, total)
    groups = _groups(labels)
    counts = proportional_counts(np.array([len(g) for g in groups]), total, at_least_one=True)
    return _keep_in_groups(distances, groups, counts, farthest=True)


def _cluster_selection(policy, distances, labels, keep: float, total: int, per_cluster, exact, seed) -> np.ndarray:
    """``hard``, ``easy`` and ``random`` inside each cluster (the reference rule: ``ceil(keep * n)`` per cluster, or
    ``total`` shared in proportion with ``exact``), or over all images at once."""
    n = len(distances)
    groups = _groups(labels) if per_cluster else [np.arange(n)]
    if exact:
        counts = proportional_counts(np.array([len(g) for g in groups]), total)
    else:
        counts = [keep_count(len(g), keep) for g in groups]
    if policy == "random":
        shuffled = np.random.default_rng(seed).permutation(n).astype(np.float64)
        return _keep_in_groups(shuffled, groups, counts, farthest=False)
    return _keep_in_groups(distances, groups, counts, farthest=policy == "hard")


def stride_selection(n: int, count: int, groups: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Mask of ``count`` images taken at an even stride through the dataset's order: within each group (a video),
    a share of ``count`` in proportion to its size (at least one each while the budget allows), evenly spaced, all
    groups at one seeded phase."""
    groups = np.zeros(n, np.int64) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    members = _groups(groups)
    counts = proportional_counts(np.array([len(m) for m in members]), count, at_least_one=True)
    phase = np.random.default_rng(seed).random()
    mask = np.zeros(n, bool)
    for frames, quota in zip(members, counts):
        if quota:
            frames = np.sort(frames)  # the dataset's order within the group
            mask[frames[np.floor((np.arange(quota) + phase) * len(frames) / quota).astype(np.int64)]] = True
    return mask


def preference_order(
    policy: str,
    distances: np.ndarray,
    labels: np.ndarray,
    count: int,
    seed: int,
    features: np.ndarray | None,
    settings: CoverageSettings,
) -> np.ndarray:
    """Every index, most wanted first, under ``policy`` (one of ``GROUPED_POLICIES``); the first ``count`` are its
    selection."""
    if policy in ("hard", "easy", "random"):
        return order_from_scores(preference(distances, policy, seed))
    if policy == "ccs":
        return ccs_order(distances, count, beta=settings.beta, strata=settings.strata, seed=seed)
    if features is None or len(features) != len(distances):
        raise ValueError(f"the {policy} policy needs one embedding per sample (features)")
    if policy == "typical":
        return typical_order(features, count, seed=seed)
    if policy == "zcore":
        return order_from_scores(zcore_scores(features, seed=seed))
    delta = settings.delta if settings.delta is not None else purity_delta(features, labels, purity=settings.purity)
    return probcover_order(features, delta, seed=seed)


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
