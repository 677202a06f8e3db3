"""Row operations on embedding matrices that every floor shares: unit length, and centring."""

from __future__ import annotations

import numpy as np


def l2_normalize(X: np.ndarray, *, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (zero rows stay zero); float32 unless ``X`` is float64."""
    X = np.asarray(X, dtype=np.float64 if np.asarray(X).dtype == np.float64 else np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, eps)


def center(X: np.ndarray) -> np.ndarray:
    """Rows minus the mean row: removes the direction every embedding shares.

    Self-supervised features (ReLU outputs, average-pooled) often share one dominant component; after L2
    normalisation alone all images then sit within a tiny cap of the sphere and distances shrink to float noise.
    """
    X = np.asarray(X, dtype=np.float32)
    return X - X.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)  # float64 sum: order-free
