"""The array API (the reference tool's second mode): prune any sample matrix by prototype distance.

    from edgeprune import prune
    kept, pruned = prune(X, fraction=0.3, mode="hard", clusters=10, return_="both")

Per cluster, samples are sorted by ascending distance to the nearest prototype; with prune fraction ``f`` and
``n`` samples the first ``n - ceil((1 - f) n)`` are the easy part and the rest the hard part (the reference rule).
``mode`` names the part that is kept ("in"): ``hard`` keeps the hard part and prunes the easy one; ``easy`` keeps
the ``ceil((1 - f) n)`` nearest and prunes the rest. Index computation is one sort per cluster, O(n log n).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .cluster import fit_prototypes
from .cluster.autok import choose_k
from .curation.score import l2_normalize, prototype_scores
from .curation.select import select
from .errors import EdgepruneError

RETURNS = ("in", "out", "both")


def prune(
    X: np.ndarray,
    *,
    fraction: float,
    mode: str = "hard",
    method: str = "kmeans",
    clusters: int | str = 10,
    return_: str = "in",
    random_state: int = 0,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
    normalize: bool = False,
):
    """Indices of the samples kept ("in") and/or pruned ("out"), sorted ascending.

    ``fraction`` is the prune fraction in [0, 1); ``embed`` maps ``X`` to embeddings first (e.g. a backbone);
    ``clusters`` is an int, ``"auto"`` (Growing Neural Gas) or ``"auto:silhouette"``.
    """
    if not 0.0 <= fraction < 1.0:
        raise EdgepruneError(f"prune fraction must be in [0, 1), got {fraction}")
    if mode not in ("easy", "hard", "random"):
        raise EdgepruneError(f"mode must be 'easy', 'hard' or 'random', got {mode!r}")
    if return_ not in RETURNS:
        raise EdgepruneError(f"return_ must be one of {', '.join(RETURNS)}, got {return_!r}")
    features = np.asarray(embed(X) if embed is not None else X, dtype=np.float32)
    features = features.reshape(len(features), -1)
    metric = "cosine" if normalize else "euclidean"
    if normalize:
        features = l2_normalize(features)
    k, _ = choose_k(clusters, features, random_state=random_state)
    clusterer = fit_prototypes(method, k, features, random_state=random_state, metric=metric)
    labels, distances = prototype_scores(features, clusterer.cluster_centers_, metric)
    kept = select(distances, labels, keep=1.0 - fraction, policy=mode, seed=random_state)
    inside, outside = np.flatnonzero(kept), np.flatnonzero(~kept)
    return {"in": inside, "out": outside, "both": (inside, outside)}[return_]
