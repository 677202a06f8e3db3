"""Clustering methods, all scikit-learn-style estimators with ``cluster_centers_``, in a plain-dict registry."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import EdgepruneError
from .base import PrototypeClusterer, nearest_prototype, squared_distances
from .kmeans import KMeans

METHODS: dict[str, Callable[..., PrototypeClusterer]] = {
    "kmeans": KMeans,
}


def make_clusterer(method: str, n_clusters: int, *, random_state: int | None = 0, **params: Any) -> PrototypeClusterer:
    """Build the estimator registered as ``method``; an unknown name lists the valid ones."""
    try:
        factory = METHODS[method]
    except KeyError:
        raise EdgepruneError(f"unknown clustering method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    return factory(n_clusters, random_state=random_state, **params)


__all__ = ["KMeans", "METHODS", "PrototypeClusterer", "make_clusterer", "nearest_prototype", "squared_distances"]
