"""Choosing the number of clusters: ``--clusters K``, ``auto`` (Growing Neural Gas) or ``auto:silhouette``."""

from __future__ import annotations

import numpy as np

from ..errors import EdgepruneError
from .gng import GrowingNeuralGas

AUTO_CHOICES = ("auto", "auto:gng", "auto:silhouette")


def gng_k(X: np.ndarray, *, random_state: int = 0, min_share: float = 0.01) -> tuple[int, str]:
    """k = connected components of a Growing Neural Gas graph (at least 2), and why.

    Components that are nearest to fewer than ``min_share`` of the samples (stray node pairs GNG leaves behind)
    are not counted.
    """
    gng = GrowingNeuralGas(random_state=random_state).fit(X)
    shares = np.bincount(gng.labels_, minlength=gng.n_components_) / len(X)
    real = int((shares >= min_share).sum())
    k = min(max(2, real), len(X))
    reason = (
        f"Growing Neural Gas: {len(gng.cluster_centers_)} nodes, {len(gng.edges_)} edges, "
        f"{gng.n_components_} connected components ({gng.n_components_ - real} holding < {min_share:.0%} "
        f"of the samples ignored) -> k={k}"
    )
    return k, reason


def silhouette_k(X: np.ndarray, *, k_max: int = 20, sample: int = 3000, random_state: int = 0) -> tuple[int, str]:
    """The k in [2, k_max] with the best silhouette of k-means, scored on a seeded sample, and why."""
    from sklearn.metrics import silhouette_score

    from .kmeans import KMeans

    rng = np.random.default_rng(random_state)
    subset = X[rng.choice(len(X), sample, replace=False)] if len(X) > sample else X
    scores = {}
    for k in range(2, min(k_max, len(subset) - 1) + 1):
        labels = KMeans(k, random_state=random_state, backend="sklearn").fit(subset).labels_
        if len(np.unique(labels)) > 1:
            scores[k] = float(silhouette_score(subset, labels))
    if not scores:
        raise EdgepruneError(f"cannot choose k by silhouette from {len(X)} samples; pass clusters=K")
    best = max(scores, key=scores.get)
    listed = ", ".join(f"{k}:{s:.3f}" for k, s in scores.items())
    return best, f"best silhouette on {len(subset)} samples: k={best} ({listed})"


def parse_k(spec: str | int, n_samples: int) -> int:
    """An explicit ``clusters`` count, checked against the number of samples (auto values are rejected). Errors name
    the parameter as ``clusters=VALUE``; the command line shows it as its flag."""
    try:
        k = int(str(spec).strip())
    except ValueError:
        raise EdgepruneError(
            f"clusters={spec}: must be a positive integer or one of {', '.join(AUTO_CHOICES)}"
        ) from None
    if k < 1:
        raise EdgepruneError(f"clusters={k}: must be at least 1")
    if k > n_samples:
        raise EdgepruneError(f"clusters={k} is larger than the number of samples ({n_samples})")
    return k


def choose_k(spec: str | int, X: np.ndarray, *, random_state: int = 0) -> tuple[int, str]:
    """Resolve a ``clusters`` value against the samples; returns ``(k, reason)``."""
    text = str(spec).strip().lower()
    if text in ("auto", "auto:gng"):
        return gng_k(X, random_state=random_state)
    if text == "auto:silhouette":
        return silhouette_k(X, random_state=random_state)
    k = parse_k(spec, len(X))
    return k, f"k={k} as given"
