"""k-means: faiss when installed (``pip install edgeprune[faiss]``), scikit-learn's KMeans otherwise."""

from __future__ import annotations

import logging

import numpy as np
from scipy.sparse import csr_matrix

from ..errors import EdgepruneError
from .base import PrototypeClusterer, check_input, nearest_prototype

log = logging.getLogger(__name__)
BACKENDS = ("auto", "faiss", "sklearn")
FAISS_MIN_SAMPLES = 5000  # below this sklearn is fast enough and faiss warns about too few points
FAISS_MAX_ITER = 25  # faiss's iterations, at most (its default); fewer when max_iter says so


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

    ``spherical=True`` is spherical k-means (for L2-normalised samples): centers are unit vectors and samples join
    the center of highest cosine similarity. faiss does it natively; with scikit-learn, Lloyd's result is refined
    by spherical iterations until no sample changes cluster.
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
        spherical: bool = False,
    ) -> None:
        self.n_clusters = n_clusters
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.backend = backend
        self.spherical = spherical

    def _resolved_backend(self, n_samples: int) -> str:
        if self.backend not in BACKENDS:
            raise EdgepruneError(f"unknown k-means backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.backend == "auto":
            return "faiss" if n_samples >= FAISS_MIN_SAMPLES and faiss_available() else "sklearn"
        return self.backend

    def fit(self, X: np.ndarray, y=None) -> "KMeans":
        """Cluster ``X``; sets ``cluster_centers_`` and ``backend_``; ``labels_`` and ``inertia_`` are computed when
        first read."""
        X = check_input(X, self.n_clusters)
        self.backend_ = self._resolved_backend(len(X))
        seed = 0 if self.random_state is None else int(self.random_state)
        if self.backend_ == "faiss":
            import faiss

            km = faiss.Kmeans(
                X.shape[1],
                self.n_clusters,
                niter=min(self.max_iter, FAISS_MAX_ITER),
                nredo=self.n_init,
                seed=seed,
                verbose=False,
                spherical=self.spherical,
            )
            km.train(np.ascontiguousarray(X))
            self.cluster_centers_ = np.asarray(km.centroids, dtype=np.float32)
        else:
            from sklearn.cluster import KMeans as SkKMeans

            km = SkKMeans(
                self.n_clusters, n_init=self.n_init, max_iter=self.max_iter, tol=self.tol, random_state=seed
            ).fit(X)
            self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
            if self.spherical:
                self.cluster_centers_ = spherical_refine(X, self.cluster_centers_, self.max_iter)
        if self.spherical:
            self.cluster_centers_ = _unit_rows(self.cluster_centers_)
        self._fitted_on, self._assignment = X, None
        return self

    def _assign(self) -> tuple[np.ndarray, np.ndarray]:
        # on first use only: curate scores with its own pass, so a 1M-sample fit skips this one
        if self._assignment is None:
            self._assignment = nearest_prototype(self._fitted_on, self.cluster_centers_)
            self._fitted_on = None
        return self._assignment

    @property
    def labels_(self) -> np.ndarray:
        """The nearest center of every training sample (computed on first access)."""
        return self._assign()[0]

    @property
    def inertia_(self) -> float:
        """Sum of squared Euclidean distances of the training samples to their nearest center."""
        return float(np.sum(self._assign()[1].astype(np.float64) ** 2))


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


def spherical_refine(X: np.ndarray, centers: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Spherical k-means iterations from ``centers``: assign by cosine, re-center as the normalised mean."""
    X64 = np.asarray(X, np.float64)
    centers = _unit_rows(centers).astype(np.float64)
    labels = None
    for _ in range(max_iter):
        new = (X64 @ centers.T).argmax(axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        members = csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(len(centers), len(X64)))
        sums = members @ X64
        filled = np.linalg.norm(sums, axis=1) > 0  # an emptied cluster keeps its old center
        centers[filled] = _unit_rows(sums[filled])
    return centers.astype(np.float32)
