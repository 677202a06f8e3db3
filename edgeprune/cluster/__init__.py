"""Clustering methods, all scikit-learn-style estimators with ``cluster_centers_``, in a plain-dict registry."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import EdgepruneError
from .base import PrototypeClusterer, nearest_prototype, squared_distances
from .fuzzy import FCM, HCM, FCMInit
from .kmeans import KMeans
from .possibilistic import BGPC, FPCM, IPCM, IPCM2, PCM, PFCM

METHODS: dict[str, Callable[..., PrototypeClusterer]] = {
    "kmeans": KMeans,
    "hcm": HCM,
    "fcm": FCM,
    "fcm_init": FCMInit,
    "pcm": PCM,
    "fpcm": FPCM,
    "pfcm": PFCM,
    "ipcm": IPCM,
    "ipcm_2": IPCM2,
    "bgpc": BGPC,
}


def make_clusterer(method: str, n_clusters: int, *, random_state: int | None = 0, **params: Any) -> PrototypeClusterer:
    """Build the estimator registered as ``method``; an unknown name lists the valid ones."""
    try:
        factory = METHODS[method]
    except KeyError:
        raise EdgepruneError(f"unknown clustering method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    return factory(n_clusters, random_state=random_state, **params)


def fit_prototypes(
    method: str,
    n_clusters: int,
    X,
    *,
    random_state: int | None = 0,
    metric: str = "euclidean",
    max_iter: int | None = None,
):
    """Fit ``method`` on ``X``; with ``metric="cosine"`` k-means is spherical (unit centers, cosine assignment);
    ``max_iter``: at most that many iterations (the method's default when None)."""
    params = {"spherical": True} if metric == "cosine" and method == "kmeans" else {}
    if max_iter is not None:
        params["max_iter"] = max_iter
    return make_clusterer(method, n_clusters, random_state=random_state, **params).fit(X)


__all__ = [
    "BGPC",
    "FCM",
    "FCMInit",
    "FPCM",
    "HCM",
    "IPCM",
    "IPCM2",
    "KMeans",
    "PCM",
    "PFCM",
    "METHODS",
    "PrototypeClusterer",
    "fit_prototypes",
    "make_clusterer",
    "nearest_prototype",
    "squared_distances",
]
