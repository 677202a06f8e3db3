"""Sorscher et al.'s self-supervised prototype metric as a scikit-learn estimator.

    scorer = PrototypeScorer(clusters=10).fit(X)
    hardness = scorer.score_samples(X)          # distance to the nearest prototype: far = hard
    kept = scorer.select(keep=0.7, policy="hard")   # a boolean mask over the fitted samples

``fit`` clusters the samples and keeps each one's nearest prototype and distance; ``select`` applies any of
curate's policies but ``balanced`` (which needs box counts) to them, with the same code ``curate`` runs.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..cluster import fit_prototypes
from ..cluster.autok import choose_k
from ..errors import EdgepruneError
from .score import l2_normalize, prototype_scores
from .select import POLICIES, select

ARRAY_POLICIES = tuple(p for p in POLICIES if p != "balanced")  # balanced needs box counts per category
FEATURE_POLICIES = ("coreset", "typical", "probcover", "zcore")  # they read the samples, not only the distances


class PrototypeScorer(BaseEstimator):
    """Cluster samples, score each by its distance to the nearest prototype, keep a part.

    ``method``: a clustering method of :data:`edgeprune.cluster.METHODS` (``"kmeans"``); ``clusters``: an int,
    ``"auto"`` (Growing Neural Gas) or ``"auto:silhouette"``; ``normalize``: L2-normalise the samples and score by
    cosine distance to unit prototypes (spherical k-means), else Euclidean distance to the raw ones; ``seed``
    makes clustering and the random policies reproducible.

    Fitted attributes: ``cluster_centers_``, ``n_clusters_`` (with ``k_reason_``, how it was chosen), ``labels_``
    and ``distances_`` (the fitted samples' nearest prototype and distance) and ``clusterer_``.
    """

    def __init__(self, method: str = "kmeans", clusters: int | str = 10, normalize: bool = False, seed: int = 0):
        self.method = method
        self.clusters = clusters
        self.normalize = normalize
        self.seed = seed

    def fit(self, X, y=None) -> PrototypeScorer:
        """Fit the prototypes on ``X`` (samples x features; any shape is flattened per sample)."""
        features = self._features(X)
        k, self.k_reason_ = choose_k(self.clusters, features, random_state=self.seed)
        self.clusterer_ = fit_prototypes(self.method, k, features, random_state=self.seed, metric=self._metric())
        self.cluster_centers_ = np.asarray(self.clusterer_.cluster_centers_, dtype=np.float32)
        self.n_clusters_ = k
        self.n_features_in_ = features.shape[1]
        self.labels_, self.distances_ = prototype_scores(features, self.cluster_centers_, self._metric())
        return self

    def predict(self, X) -> np.ndarray:
        """The nearest prototype of every sample."""
        return self._scores(self._features(X))[0]

    def score_samples(self, X) -> np.ndarray:
        """The distance of every sample to its nearest prototype (far = hard, near = easy)."""
        return self._scores(self._features(X))[1]

    def select(
        self, X=None, *, keep: float, policy: str = "hard", per_cluster: bool = True, exact: bool = False
    ) -> np.ndarray:
        """Boolean mask of the samples to keep: of ``X``, or of the fitted samples when ``X`` is None.

        ``keep`` is the kept fraction in (0, 1]; ``policy`` any of :data:`ARRAY_POLICIES`; ``per_cluster`` applies
        the fraction inside each cluster (the reference rule) or to all samples at once; ``exact`` keeps exactly
        ``round(keep * n)``. The policies that read the samples themselves (``coreset``, ``typical``,
        ``probcover``, ``zcore``) need ``X``.
        """
        check_is_fitted(self, "cluster_centers_")
        if policy not in ARRAY_POLICIES:
            raise EdgepruneError(f"policy must be one of {', '.join(ARRAY_POLICIES)}, got {policy!r}")
        if X is None:
            if policy in FEATURE_POLICIES:
                raise EdgepruneError(f"policy {policy!r} reads the samples: pass them as X")
            labels, distances, features = self.labels_, self.distances_, None
        else:
            features = self._features(X)
            labels, distances = self._scores(features)
        return select(
            distances,
            labels,
            keep=keep,
            policy=policy,
            per_cluster=per_cluster,
            seed=self.seed,
            exact=exact,
            features=features,
        )

    def _metric(self) -> str:
        return "cosine" if self.normalize else "euclidean"

    def _features(self, X) -> np.ndarray:
        features = np.asarray(X, dtype=np.float32)
        if features.ndim == 0 or len(features) == 0:
            raise EdgepruneError(f"X must hold at least one sample, got an array of shape {features.shape}")
        features = features.reshape(len(features), -1)
        if not np.isfinite(features).all():
            raise EdgepruneError("X holds NaN or infinite values")
        return l2_normalize(features) if self.normalize else features

    def _scores(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest prototype and the distance to it of samples already through :meth:`_features`."""
        check_is_fitted(self, "cluster_centers_")
        if features.shape[1] != self.n_features_in_:
            raise EdgepruneError(
                f"X has {features.shape[1]} features per sample; the prototypes were fitted on {self.n_features_in_}"
            )
        return prototype_scores(features, self.cluster_centers_, self._metric())
