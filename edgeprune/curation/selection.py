"""The select stage over a scored dataset: the policy's keep-mask (:mod:`.select` holds the pure policies), the
dedup budget rule, the per-category floor, and each image's rank in its cluster."""

from __future__ import annotations

import numpy as np

from .features import scored_features
from .groups import image_groups
from .objects import box_counts
from .score import rank_in_cluster
from .select import (
    EMBEDDING_POLICIES,
    GROUPED_POLICIES,
    CoverageSettings,
    cover_categories,
    exact_count,
    preference,
    select,
)
from .types import CurateOptions, Scored, SelectionSettings


def choose(
    dataset, scored: Scored, options: CurateOptions, *, fill_budget: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The keep-mask for ``options.selection`` (``keep``, ``policy``, ...) over scored images, with the category floor
    applied; and notes.

    After ``--dedup`` the budget is still ``round(keep * N)`` of the *input*, and the policy chooses among the images
    dedup left. If they are fewer than the budget, all of them are kept (dedup wins), or with ``fill_budget`` (for
    experiments that compare policies at equal counts) the rest comes from the dropped near-duplicates, most wanted
    by the policy first.
    """
    selection = options.selection
    candidates = scored.candidates
    n = len(dataset)
    counts, names = box_counts(dataset)
    deduplicated = not candidates.all()
    budget = exact_count(n, selection.keep) if selection.exact or deduplicated else None
    groups = image_groups(dataset, selection.groups) if selection.policy in GROUPED_POLICIES else None
    needs_features = selection.policy in EMBEDDING_POLICIES
    coverage = CoverageSettings(delta=selection.probcover_delta, beta=selection.ccs_beta, strata=selection.ccs_strata)
    kept = np.zeros(n, bool)
    kept[candidates] = select(
        scored.distances[candidates],
        scored.labels[candidates],
        keep=selection.keep,
        policy=selection.policy,
        per_cluster=selection.per_cluster,
        seed=options.seed,
        count=budget,
        features=scored_features(scored, options.clustering)[candidates] if needs_features else None,
        box_counts=counts[candidates],
        groups=groups[candidates] if groups is not None else None,
        coverage=coverage,
    )
    wanted = preference(scored.distances, selection.policy, options.seed)
    notes = []
    if budget is not None and kept.sum() < budget:
        notes.append(_fill_budget(kept, candidates, wanted, budget, selection, fill_budget))
    if selection.min_per_category:
        notes.append(_category_floor(kept, candidates, counts, names, wanted, selection.min_per_category))
    share = kept.mean() if n else 0.0
    if abs(share - selection.keep) > 0.01 and not deduplicated:
        notes.append(
            f"kept {100 * share:.1f}% of the images, {100 * selection.keep:.1f}% asked: the per-cluster rule keeps "
            "ceil(keep x n) of every cluster; --exact keeps exactly round(keep x N)"
        )
    return kept, notes


def _fill_budget(kept, candidates, wanted, budget: int, selection: SelectionSettings, fill: bool) -> str:
    """Dedup left fewer images than the budget: keep them all, or (``fill``) take back near-duplicates, most wanted
    first. Updates ``kept`` in place; returns the note."""
    left = int(candidates.sum())
    if fill:
        refill = [i for i in np.argsort(-wanted, kind="stable") if not candidates[i]][: budget - left]
        kept[refill] = True
        action = f"{len(refill)} near-duplicates kept back to fill it, most wanted by {selection.policy!r} first"
    else:
        action = "all of them are kept"
    asked = f"fewer than the {budget} that --keep {selection.keep} asks of {len(kept)}"
    return f"dedup left {left} images, {asked}: {action}"


def _category_floor(kept, candidates, counts, names, wanted, floor: int) -> str:
    """``--min-per-category``: swap images in until every category keeps ``floor`` boxes (or all it has). Updates
    ``kept`` in place; returns the note."""
    floor_counts = counts.copy()
    floor_counts[~candidates & ~kept] = 0
    covered, swapped = cover_categories(kept, floor_counts, floor, wanted)
    kept[:] = covered
    short = [name for name, c, t in zip(names, counts[kept].sum(0), counts.sum(0)) if c < min(t, floor)]
    return f"--min-per-category {floor}: {swapped} images swapped in to keep every category's boxes" + (
        f"; still short: {', '.join(short)}" if short else ""
    )


def ranks(scored: Scored) -> np.ndarray:
    """Each candidate's rank in its cluster (0 = nearest its prototype); -1 for near-duplicates."""
    ranked = np.full(len(scored.labels), -1, np.int64)
    candidates = scored.candidates
    ranked[candidates] = rank_in_cluster(scored.distances[candidates], scored.labels[candidates])
    return ranked


def global_cut(distances: np.ndarray, kept: np.ndarray, options: CurateOptions) -> tuple[float | None, str]:
    """The score at which a global easy/hard selection cut, for the report's histogram (None when it did not)."""
    selection = options.selection
    if selection.per_cluster or selection.policy in ("random", "stratified") or kept.all():
        return None, ""
    boundary = distances[kept].min() if selection.policy == "hard" else distances[kept].max()
    return float(boundary), "global cut"
