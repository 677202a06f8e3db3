"""Growing Neural Gas (B. Fritzke, "A growing neural gas network learns topologies", NIPS 1995).

Used to choose the number of clusters: k = number of connected components of the learned graph (at least 2).
GNG is an online algorithm (one update per presented sample); the per-sample work is vectorised over the nodes,
and by default it sees a seeded subsample of at most ``max_samples`` points, which is plenty to find the topology.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .base import PrototypeClusterer, nearest_prototype


class GrowingNeuralGas(PrototypeClusterer):
    """GNG with the reference settings (e_b=0.1, e_n=0.006, a_max=10, lambda=200, alpha=0.5, d=0.995, 2 passes).

    After ``fit``: ``cluster_centers_`` are the nodes, ``edges_`` the (i, j) pairs of the graph, ``components_``
    the component of each node, ``n_components_`` their number, ``labels_`` the component of each sample's
    nearest node, as :meth:`predict` gives it (``transform`` is the distance to each node).
    """

    def __init__(
        self,
        *,
        e_b: float = 0.1,
        e_n: float = 0.006,
        a_max: int = 10,
        lam: int = 200,
        alpha: float = 0.5,
        d: float = 0.995,
        passes: int = 2,
        max_nodes: int = 200,
        max_samples: int = 10000,
        random_state: int | None = 0,
    ) -> None:
        self.e_b, self.e_n, self.a_max, self.lam = e_b, e_n, a_max, lam
        self.alpha, self.d, self.passes = alpha, d, passes
        self.max_nodes, self.max_samples, self.random_state = max_nodes, max_samples, random_state

    def fit(self, X: np.ndarray, y=None) -> "GrowingNeuralGas":
        """Learn the graph on (a subsample of) ``X``."""
        X = np.asarray(X, dtype=np.float64)
        rng = np.random.default_rng(self.random_state)
        sample = X[rng.choice(len(X), self.max_samples, replace=False)] if len(X) > self.max_samples else X
        capacity = self.max_nodes
        weights = np.zeros((capacity, X.shape[1]))
        errors = np.zeros(capacity)
        active = np.zeros(capacity, bool)
        ages = np.full((capacity, capacity), -1, np.int64)  # -1: no edge
        weights[:2] = sample[rng.choice(len(sample), 2, replace=False)]
        active[:2] = True
        step = 0
        for _ in range(self.passes):
            for x in sample[rng.permutation(len(sample))]:
                step += 1
                nodes = np.flatnonzero(active)
                d2 = ((weights[nodes] - x) ** 2).sum(axis=1)
                first, second = np.argpartition(d2, 1)[:2] if len(nodes) > 2 else np.argsort(d2)[:2]
                s1, s2 = nodes[first], nodes[second]
                errors[s1] += d2[first]
                edges_s1 = ages[s1] >= 0
                ages[s1, edges_s1] += 1
                ages[edges_s1, s1] += 1
                weights[s1] += self.e_b * (x - weights[s1])
                weights[edges_s1] += self.e_n * (x - weights[edges_s1])
                ages[s1, s2] = ages[s2, s1] = 0
                stale = ages > self.a_max
                ages[stale] = -1
                isolated = active & ((ages >= 0).sum(axis=1) == 0)
                active[isolated] = False
                if step % self.lam == 0 and active.sum() < capacity:
                    self._insert(weights, errors, active, ages)
                errors *= self.d
        nodes = np.flatnonzero(active)
        adjacency = csr_matrix(ages[np.ix_(nodes, nodes)] >= 0)
        self.n_components_, self.components_ = connected_components(adjacency, directed=False)
        self.cluster_centers_ = weights[nodes].astype(np.float32)
        self.edges_ = np.argwhere(np.triu(ages[np.ix_(nodes, nodes)] >= 0))
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The connected component (the cluster) of each sample's nearest node; on the training data, ``labels_``."""
        return self.components_[nearest_prototype(np.asarray(X, np.float32), self.cluster_centers_)[0]]

    def _insert(self, weights, errors, active, ages) -> None:
        q = np.flatnonzero(active)[errors[active].argmax()]
        neighbours = np.flatnonzero(ages[q] >= 0)
        if len(neighbours) == 0:
            return
        f = neighbours[errors[neighbours].argmax()]
        r = np.flatnonzero(~active)[0]
        weights[r] = (weights[q] + weights[f]) / 2
        active[r] = True
        ages[q, f] = ages[f, q] = -1
        ages[q, r] = ages[r, q] = ages[r, f] = ages[f, r] = 0
        errors[q] *= self.alpha
        errors[f] *= self.alpha
        errors[r] = errors[q]
