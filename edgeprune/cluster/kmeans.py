"""k-means: faiss when installed (``pip install edgeprune[faiss]``), scikit-learn's KMeans otherwise."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import EdgepruneError
from .base import PrototypeClusterer, check_input, nearest_prototype

log = logging.getLogger(__name__)
BACKENDS = ("auto", "faiss", "sklearn")
FAISS_MIN_SAMPLES = 5000  # below this sklearn is fast enough and faiss warns about too few points


def faiss_available() -> bool:
    """True if faiss can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class KMeans(PrototypeClusterer):
    """Lloyd k-means with k-means++ (sklearn) or faiss's subsampled training; sklearn-style estimator.

    ``backend="auto"`` uses faiss when it is installed and there are at least 5,000 samples (about 40x faster on
    200k x 256, k=100), scikit-learn otherwise. ``labels_`` always come from an exact nearest-center pass over
    all samples.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        max_iter: int = 100,
        tol: float = 1e-4,
        n_init: int = 1,
        random_state: int | None = 0,
        backend: str = "auto",
    ) -> None:
        self.n_clusters = n_clusters
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.backend = backend

    def _resolved_backend(self, n_samples: int) -> str:
        if self.backend not in BACKENDS:
            raise EdgepruneError(f"unknown k-means backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.backend == "auto":
            return "faiss" if n_samples >= FAISS_MIN_SAMPLES and faiss_available() else "sklearn"
        return self.backend

    def fit(self, X: np.ndarray, y=None) -> "KMeans":
        """Cluster ``X``; sets ``cluster_centers_``, ``labels_``, ``inertia_`` and ``backend_``."""
        X = check_input(X, self.n_clusters)
        self.backend_ = self._resolved_backend(len(X))
        seed = 0 if self.random_state is None else int(self.random_state)
        if self.backend_ == "faiss":
            import faiss

            km = faiss.Kmeans(
                X.shape[1], self.n_clusters, niter=min(self.max_iter, 25), nredo=self.n_init, seed=seed, verbose=False
            )
            km.train(np.ascontiguousarray(X))
            self.cluster_centers_ = np.asarray(km.centroids, dtype=np.float32)
        else:
            from sklearn.cluster import KMeans as SkKMeans

            km = SkKMeans(
                self.n_clusters, n_init=self.n_init, max_iter=self.max_iter, tol=self.tol, random_state=seed
            ).fit(X)
            self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        self.labels_, distances = nearest_prototype(X, self.cluster_centers_)
        self.inertia_ = float(np.sum(distances.astype(np.float64) ** 2))
        return self
