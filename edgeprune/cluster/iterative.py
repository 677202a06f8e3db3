"""The machinery shared by the alternating-optimisation clusterers (hard, fuzzy and possibilistic c-means).

Every update is a matrix expression over all samples at once: squared distances ``[n, c]`` from one matrix
product, memberships from them elementwise, and prototypes as a weighted mean ``W.T @ X / W.sum(0)``.
"""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, dataclass

import numpy as np

from .base import PrototypeClusterer, check_input, squared_distances

log = logging.getLogger(__name__)
EPS = 1e-12


def initial_centers(X: np.ndarray, n_clusters: int, random_state: int | None) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007), via scikit-learn, deterministic for a seed."""
    from sklearn.cluster import kmeans_plusplus

    centers, _ = kmeans_plusplus(X, n_clusters, random_state=0 if random_state is None else random_state)
    return centers.astype(np.float64)


def squared_distances64(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distances ``[n, c]`` in float64, for membership arithmetic."""
    return squared_distances(X, centers).astype(np.float64)


def weighted_centers(X: np.ndarray, weights: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Prototypes as weighted means ``sum_k w_ki x_k / sum_k w_ki``; a prototype with no weight stays put."""
    totals = weights.sum(axis=0)
    centers = (weights.T @ X) / np.maximum(totals, EPS)[:, None]
    empty = totals <= EPS
    centers[empty] = previous[empty]
    return centers


def fuzzy_memberships(d2: np.ndarray, m: float) -> np.ndarray:
    """Bezdek's FCM memberships ``u_ik = 1 / sum_j (d_ik^2 / d_jk^2)^(1/(m-1))``; rows sum to 1."""
    inverse = np.maximum(d2, EPS) ** (-1.0 / (m - 1.0))
    return inverse / inverse.sum(axis=1, keepdims=True)


def possibilistic_scale(d2: np.ndarray, weights: np.ndarray, k: float = 1.0) -> np.ndarray:
    """Krishnapuram & Keller's eta_i = K * sum_k w_ki d_ki^2 / sum_k w_ki (the cluster's spread)."""
    return np.maximum(k * (weights * d2).sum(axis=0) / np.maximum(weights.sum(axis=0), EPS), EPS)


def prototypes_collapsed(X: np.ndarray, centers: np.ndarray, *, relative: float = 1e-3) -> bool:
    """True if two or more prototypes lie within ``relative`` x the data's spread of each other."""
    if len(centers) < 2:
        return False
    spread = float(np.sqrt(((X - X.mean(axis=0)) ** 2).sum(axis=1).mean()))
    gaps = np.sqrt(squared_distances64(centers, centers))
    np.fill_diagonal(gaps, np.inf)
    return bool(gaps.min() < relative * max(spread, EPS))


def estimator(cls):
    """Make ``cls``'s annotated parameters its keyword-only ``__init__`` arguments, stored under their own names as
    scikit-learn expects (``get_params`` reads the generated signature); repr and equality stay scikit-learn's."""
    return dataclass(cls, kw_only=True, repr=False, eq=False)


@dataclass(repr=False, eq=False)
class IterativeClusterer(PrototypeClusterer):
    """Alternating optimisation with a tolerance on prototype movement; subclasses declare their parameters (with
    :func:`estimator`) and implement ``_run``, the update rules over the shared loop :meth:`_iterate`."""

    n_clusters: int = 8
    _: KW_ONLY
    max_iter: int = 1000
    tol: float = 1e-3
    random_state: int | None = 0

    def _converged(self, old: np.ndarray, new: np.ndarray) -> bool:
        return float(np.linalg.norm(new - old, axis=1).max()) <= self.tol

    def _iterate(self, X: np.ndarray, centers: np.ndarray, update, max_iter: int | None = None) -> tuple:
        """Call ``update(d2) -> (new_centers, state)`` until the prototypes move less than ``tol``."""
        state = None
        for iteration in range(1, (max_iter or self.max_iter) + 1):
            d2 = squared_distances64(X, centers)
            new_centers, state = update(d2, iteration)
            done = self._converged(centers, new_centers)
            centers = new_centers
            if done:
                break
        self.n_iter_ = iteration
        return centers, state

    def fit(self, X: np.ndarray, y=None) -> "IterativeClusterer":
        """Cluster ``X``; sets ``cluster_centers_``, ``labels_`` (nearest prototype), ``n_iter_`` and memberships."""
        X = check_input(X, self.n_clusters).astype(np.float64)
        self._run(X)
        self.cluster_centers_ = self.cluster_centers_.astype(np.float32)
        self.labels_ = self.predict(X.astype(np.float32))
        self.collapsed_ = prototypes_collapsed(X, self.cluster_centers_)
        if self.collapsed_:
            log.warning(
                "%s: the prototypes collapsed onto each other (fuzzy c-means with m=%s in %d dimensions: "
                "Winkler, Klawonn & Kruse 2011); scores become distances to the data mean. Use kmeans or hcm, "
                "or a fuzzifier closer to 1.",
                type(self).__name__,
                getattr(self, "m", "?"),
                X.shape[1],
            )
        return self

    def _run(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
