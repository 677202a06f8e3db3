"""Scores for pruning: Euclidean distance from each embedding to its nearest prototype.

This is the self-supervised prototype metric of Sorscher et al. 2022 ("Beyond neural scaling laws", arXiv
2206.14486): far from every prototype = hard, near one = easy. On L2-normalised embeddings it orders images
exactly as the paper's cosine distance does.
"""

from __future__ import annotations

import numpy as np

from .cluster.base import nearest_prototype


def l2_normalize(X: np.ndarray, *, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, eps)


def center(X: np.ndarray) -> np.ndarray:
    """Rows minus the mean row: removes the direction every embedding shares.

    Self-supervised features (ReLU outputs, average-pooled) often share one dominant component; after L2
    normalisation alone all images then sit within a tiny cap of the sphere and distances shrink to float noise.
    """
    X = np.asarray(X, dtype=np.float32)
    return X - X.mean(axis=0, keepdims=True)


def prototype_scores(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cluster, distance)`` per sample: the nearest prototype and the Euclidean distance to it."""
    return nearest_prototype(X, centers)


def rank_in_cluster(distances: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of each sample within its cluster by ascending distance (ties broken by index)."""
    order = np.lexsort((np.arange(len(distances)), distances, labels))
    ranks = np.empty(len(distances), np.int64)
    sorted_labels = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    ranks[order] = np.arange(len(order)) - group_start
    return ranks
