"""Hard and fuzzy c-means.

- HCM: hard c-means, Lloyd's alternation of nearest-prototype assignment and mean update.
- FCM: fuzzy c-means, J. C. Bezdek, "Pattern Recognition with Fuzzy Objective Function Algorithms", 1981;
  Bezdek, Ehrlich & Full, "FCM: the fuzzy c-means clustering algorithm", Computers & Geosciences 10 (1984).
- FCMInit: k-means prototypes with FCM memberships computed from them (the reference tool's ``fcm_init``).
"""

from __future__ import annotations

import numpy as np

from .iterative import (
    IterativeClusterer,
    estimator,
    fuzzy_memberships,
    initial_centers,
    squared_distances64,
    weighted_centers,
)


@estimator
class HCM(IterativeClusterer):
    """Hard c-means (Lloyd). Empty clusters are re-seeded at the sample farthest from its prototype."""

    def _run(self, X: np.ndarray) -> None:
        identity = np.eye(self.n_clusters)

        def update(d2, _):
            labels = d2.argmin(axis=1)
            centers = weighted_centers(X, identity[labels], previous)
            counts = np.bincount(labels, minlength=self.n_clusters)
            for empty in np.flatnonzero(counts == 0):
                centers[empty] = X[d2[np.arange(len(X)), labels].argmax()]
            previous[:] = centers
            return centers, labels

        previous = initial_centers(X, self.n_clusters, self.random_state)
        self.cluster_centers_, _ = self._iterate(X, previous.copy(), update)


@estimator
class FCM(IterativeClusterer):
    """Fuzzy c-means with fuzzifier ``m`` (default 2): memberships ``u_`` (rows sum to 1)."""

    m: float = 2.0

    def _run(self, X: np.ndarray) -> None:
        if self.m <= 1:
            raise ValueError(f"fuzzifier m must be > 1, got {self.m}")

        def update(d2, _):
            u = fuzzy_memberships(d2, self.m)
            return weighted_centers(X, u**self.m, centers0), u

        centers0 = initial_centers(X, self.n_clusters, self.random_state)
        centers, _ = self._iterate(X, centers0, update)
        self.cluster_centers_ = centers
        self.u_ = fuzzy_memberships(squared_distances64(X, centers), self.m)


@estimator
class FCMInit(FCM):
    """k-means prototypes, then FCM memberships ``u_`` computed from them (no further iteration)."""

    def _run(self, X: np.ndarray) -> None:
        from .kmeans import KMeans

        km = KMeans(self.n_clusters, max_iter=self.max_iter, random_state=self.random_state).fit(X)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float64)
        self.u_ = fuzzy_memberships(squared_distances64(X, self.cluster_centers_), self.m)
        self.n_iter_ = 1
