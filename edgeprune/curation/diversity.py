"""Diversity: the greedy that ``select`` runs, as a pure function, and the ``diversity`` policy of ``curate``.

:func:`greedy_pick` picks pool rows one at a time by the product of objective scores, the first of them the cosine
distance to everything labelled or picked so far (k-center greedy, Sener & Savarese 2018), never a near-copy of a
pick or of the labelled set, and with ``groups`` (a video per row) round-robin over the groups. With no labelled
set and no other objective it is the ``diversity`` policy: :func:`diversity_selection`.
"""

from __future__ import annotations

import numpy as np

NEAR_COPY = 0.95  # cosine at which the diversity policy calls two images near-copies (select's --threshold default)


def diversity_selection(features: np.ndarray, count: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Mask of up to ``count`` rows of unit ``features``: k-center greedy from the first row, with near-copies
    (cosine >= 0.95) of a pick never picked, and with ``groups`` every group a pick before any gets a second. Fewer
    than ``count`` when only near-copies are left."""
    picked, _, _ = greedy_pick(features, features[:0], count, {"diversity": 1.0}, {}, NEAR_COPY, groups)
    mask = np.zeros(len(features), bool)
    mask[picked] = True
    return mask


def greedy_pick(
    pool: np.ndarray,
    labeled: np.ndarray,
    budget: int,
    strengths: dict[str, float],
    fixed: dict[str, np.ndarray],
    threshold: float,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Pick up to ``budget`` rows of ``pool`` (unit rows) one at a time by the product of objective scores; with
    ``groups``, only among the groups with the fewest picks so far (round-robin).

    Returns the picked indices in order, each objective's score at the moment each image was picked (rows of the
    pool: the last value seen), and the mask of pool rows that were never candidates (near-copies of
    ``labeled``)."""
    n = len(pool)
    nearest = distance_to_labeled(pool, labeled)
    near_labeled = nearest <= (1.0 - threshold) + 1e-6
    available = ~near_labeled
    group_index = np.unique(groups, return_inverse=True)[1] if groups is not None else np.zeros(n, np.int64)
    picks_per_group = np.zeros(group_index.max() + 1 if n else 0, np.int64)
    scale = max(float(nearest[available].max()), 1e-12) if available.any() else 1.0
    picked: list[int] = []
    shown = {"diversity": np.zeros(n), **{name: values.copy() for name, values in fixed.items()}}
    log_fixed = sum(strengths[name] * np.log(np.maximum(values, 1e-9)) for name, values in fixed.items())
    while len(picked) < budget and available.any():
        diversity = np.clip(nearest / scale, 0.0, 1.0)
        shown["diversity"] = np.where(available, diversity, shown["diversity"])
        combined = log_fixed + strengths["diversity"] * np.log(np.maximum(diversity, 1e-9))
        turn = picks_per_group[group_index[available]].min()  # the round: groups behind it go first
        combined = np.where(available & (picks_per_group[group_index] == turn), combined, -np.inf)
        index = int(np.argmax(combined))
        picked.append(index)
        picks_per_group[group_index[index]] += 1
        similarity = pool @ pool[index]
        available &= similarity < threshold - 1e-6  # the pick and its near-copies leave the candidates
        np.minimum(nearest, 1.0 - similarity, out=nearest)
    return np.asarray(picked, np.int64), shown, near_labeled


def distance_to_labeled(pool: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """Cosine distance of every pool row to its nearest labelled row (2, the largest, without a labelled set)."""
    nearest = np.full(len(pool), 2.0)
    for start in range(0, len(labeled), 4096):
        np.minimum(nearest, 1.0 - (pool @ labeled[start : start + 4096].T).max(axis=1), out=nearest)
    return nearest
