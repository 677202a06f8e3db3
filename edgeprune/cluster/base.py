"""What every clustering method shares: squared distances to prototypes and the estimator contract."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from ..errors import EdgepruneError
from ..storage import blocks

_CHUNK_ELEMENTS = 1 << 24  # bound the [chunk, k] distance block to ~64 MB of float32


def squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``||x_i - c_j||^2`` for every sample and prototype, via one matrix product, clipped at zero.

    Computed in float64 when either input is float64, in float32 otherwise.
    """
    dtype = np.float64 if np.float64 in (np.asarray(X).dtype, np.asarray(centers).dtype) else np.float32
    X = np.asarray(X, dtype=dtype)
    centers = np.asarray(centers, dtype=dtype)
    x_norms = np.einsum("ij,ij->i", X, X)[:, None]
    c_norms = np.einsum("ij,ij->i", centers, centers)[None, :]
    d2 = x_norms - 2.0 * (X @ centers.T) + c_norms
    return np.maximum(d2, 0.0, out=d2)


def nearest_prototype(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, distances)``: index of and Euclidean distance to each sample's nearest prototype, in chunks."""
    n = len(X)
    labels = np.empty(n, np.int64)
    distances = np.empty(n, np.float32)
    step = max(1, _CHUNK_ELEMENTS // max(len(centers), 1))
    centers64 = np.asarray(centers, dtype=np.float64)
    for start in range(0, n, step):
        # float64: with float32, ||x||^2 - 2 x.c + ||c||^2 loses everything below ~3e-4 in distance
        d2 = squared_distances(np.asarray(X[start : start + step], dtype=np.float64), centers64)
        labels[start : start + step] = d2.argmin(axis=1)
        distances[start : start + step] = np.sqrt(d2[np.arange(len(d2)), labels[start : start + step]])
    return labels, distances


def check_input(X: np.ndarray, n_clusters: int) -> np.ndarray:
    """Validate a 2-D finite sample matrix with at least ``n_clusters`` rows; return it as float32."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise EdgepruneError(f"expected a 2-D array of samples, got shape {X.shape}")
    if not all(np.isfinite(X[part]).all() for part in blocks(len(X), X.shape[1] * 4)):  # X may be on disk
        raise EdgepruneError("the embeddings contain NaN or infinite values")
    if n_clusters < 1:
        raise EdgepruneError(f"the number of clusters must be at least 1, got {n_clusters}")
    if n_clusters > len(X):
        raise EdgepruneError(
            f"cannot make {n_clusters} clusters from {len(X)} samples (n_clusters must be <= {len(X)})"
        )
    return X


class PrototypeClusterer(ClusterMixin, BaseEstimator):
    """A scikit-learn clusterer that ends with ``cluster_centers_``: ``transform``, ``predict``, ``fit_predict``,
    and ``get_params``/``set_params``/``clone`` from :class:`~sklearn.base.BaseEstimator` (every ``__init__``
    argument is stored under its own name)."""

    cluster_centers_: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distances ``[n, k]`` from each sample to each prototype."""
        return np.sqrt(squared_distances(X, self.cluster_centers_))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Index of the nearest prototype for each sample."""
        return nearest_prototype(X, self.cluster_centers_)[0]

    def fit_predict(self, X: np.ndarray, y=None) -> np.ndarray:
        """Fit, then return ``labels_``."""
        return self.fit(X).labels_
