"""Sorscher et al.'s self-supervised prototype metric as a scikit-learn estimator.

    scorer = PrototypeScorer(clusters=10).fit(X)
    hardness = scorer.score_samples(X)          # distance to the nearest prototype: far = hard
    kept = scorer.select(keep=0.7, policy="hard")   # a boolean mask over the fitted samples

``fit`` clusters the samples and keeps each one's nearest prototype and distance; ``select`` applies any of
curate's policies but ``balanced`` (which needs box counts) to them, with the same code ``curate`` runs.

A memory-mapped matrix (``np.load(path, mmap_mode="r")``, or a path given to :func:`edgeprune.prune`) is never read
whole: the prototypes are fitted on a seeded sample of its rows (``fit_rows``, by default 64 per cluster) and every
row is then scored a block at a time, in float32 (:func:`~edgeprune.curation.score.streamed_scores`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..cluster import fit_prototypes
from ..cluster.autok import choose_k
from ..cluster.kmeans import FAISS_MAX_ITER
from ..errors import EdgepruneError
from ..vectors import l2_normalize
from .score import prototype_scores, streamed_scores
from .select import POLICIES, select

ARRAY_POLICIES = tuple(p for p in POLICIES if p != "balanced")  # balanced needs box counts per category
FEATURE_POLICIES = ("coreset", "diversity", "typical", "probcover", "zcore")  # they read the samples themselves
FIT_ROWS_PER_CLUSTER = 64  # a memory-mapped X is fitted on this many sampled rows per cluster
FIT_ROWS_AUTO_K = 100_000  # ... or on this many when the number of clusters is chosen automatically
# ... but with many clusters on fewer, down to faiss's minimum of 39 per cluster, so the sample stays near this size
FIT_ROWS_TARGET, FIT_ROWS_MIN_PER_CLUSTER = 250_000, 40
# a memory-mapped X's k-means stops after as many iterations as fit this many multiply-adds (8 at least; where 25 fit,
# faiss's own limit, the budget does not bind):
# 10M x 256 with k = 10,000 fits 400k rows in 8 iterations (2 min on 2 cores) instead of 640k in 25 (11 min)
FIT_MULTIPLY_ADDS = 8e12
FIT_MIN_ITERATIONS = 8


class PrototypeScorer(BaseEstimator):
    """Cluster samples, score each by its distance to the nearest prototype, keep a part.

    ``method``: a clustering method of :data:`edgeprune.cluster.METHODS` (``"kmeans"``); ``clusters``: an int,
    ``"auto"`` (Growing Neural Gas) or ``"auto:silhouette"``; ``normalize``: L2-normalise the samples and score by
    cosine distance to unit prototypes (spherical k-means), else Euclidean distance to the raw ones; ``seed``
    makes clustering and the random policies reproducible.

    Fitted attributes: ``cluster_centers_``, ``n_clusters_`` (with ``k_reason_``, how it was chosen), ``labels_``
    and ``distances_`` (the fitted samples' nearest prototype and distance) and ``clusterer_``. ``fit_rows``: fit
    on a seeded sample of at most this many rows (None: every row of an in-memory ``X``; a memory-mapped one is
    sampled, see the module docstring).
    """

    def __init__(
        self,
        method: str = "kmeans",
        clusters: int | str = 10,
        normalize: bool = False,
        seed: int = 0,
        fit_rows: int | None = None,
    ):
        self.method = method
        self.clusters = clusters
        self.normalize = normalize
        self.seed = seed
        self.fit_rows = fit_rows

    def fit(self, X, y=None) -> PrototypeScorer:
        """Fit the prototypes on ``X`` (samples x features; any shape is flattened per sample)."""
        if _streamed(X) or (self.fit_rows is not None and self.fit_rows < len(X)):
            return self._fit_on_sample(X)
        features = self._features(X)
        self._fit_prototypes(features)
        self.labels_, self.distances_ = prototype_scores(features, self.cluster_centers_, self._metric())
        return self

    def _fit_prototypes(self, features: np.ndarray, budgeted: bool = False) -> None:
        """Choose k and fit the clusterer on ``features`` (already through :meth:`_features`); ``budgeted``: k-means
        iterations within :data:`FIT_MULTIPLY_ADDS`."""
        k, self.k_reason_ = choose_k(self.clusters, features, random_state=self.seed)
        max_iter = None  # the method's own limit, unless the budget binds
        if budgeted and self.method == "kmeans":
            affordable = int(FIT_MULTIPLY_ADDS // (features.shape[0] * k * features.shape[1]))
            max_iter = max(FIT_MIN_ITERATIONS, affordable) if affordable < FAISS_MAX_ITER else None
        self.clusterer_ = fit_prototypes(
            self.method, k, features, random_state=self.seed, metric=self._metric(), max_iter=max_iter
        )
        self.cluster_centers_ = np.asarray(self.clusterer_.cluster_centers_, dtype=np.float32)
        self.n_clusters_ = k
        self.n_features_in_ = features.shape[1]

    def _fit_on_sample(self, X) -> PrototypeScorer:
        """Fit on a seeded sample of ``X``'s rows (read in index order), then score every row a block at a time."""
        rows = _rows(X)
        wanted = self.fit_rows
        if wanted is None:
            k = str(self.clusters).strip()
            wanted = fit_sample_size(int(k)) if k.isdigit() else FIT_ROWS_AUTO_K
        picked = np.sort(np.random.default_rng(self.seed).choice(len(rows), min(len(rows), wanted), replace=False))
        sample = np.asarray(rows[picked], np.float32)
        finite = np.isfinite(sample).all(axis=1)
        if not finite.all():
            raise EdgepruneError(f"X holds NaN or infinite values (row {picked[np.argmin(finite)]})")
        self._fit_prototypes(self._features(sample), budgeted=True)
        self.labels_, self.distances_ = streamed_scores(rows, self.cluster_centers_, self._metric())
        return self

    def predict(self, X) -> np.ndarray:
        """The nearest prototype of every sample."""
        return self._any_scores(X)[0]

    def score_samples(self, X) -> np.ndarray:
        """The distance of every sample to its nearest prototype (far = hard, near = easy)."""
        return self._any_scores(X)[1]

    def _any_scores(self, X) -> tuple[np.ndarray, np.ndarray]:
        if _streamed(X):
            check_is_fitted(self, "cluster_centers_")
            return streamed_scores(_rows(X), self.cluster_centers_, self._metric())
        return self._scores(self._features(X))

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
        if X is None or _streamed(X):
            if policy in FEATURE_POLICIES:
                where = "pass them as X" if X is None else "load X into memory for it"
                raise EdgepruneError(f"policy={policy} reads the samples themselves: {where}")
            labels, distances = (self.labels_, self.distances_) if X is None else self._any_scores(X)
            features = None
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


def fit_sample_size(k: int) -> int:
    """Rows a memory-mapped matrix's k clusters are fitted on: :data:`FIT_ROWS_PER_CLUSTER` per cluster, fewer (down
    to :data:`FIT_ROWS_MIN_PER_CLUSTER`) where that passes :data:`FIT_ROWS_TARGET`."""
    return min(FIT_ROWS_PER_CLUSTER * k, max(FIT_ROWS_MIN_PER_CLUSTER * k, FIT_ROWS_TARGET))


def _streamed(X) -> bool:
    """True for a memory-mapped matrix, which is read a block at a time and never whole."""
    return isinstance(X, np.memmap)


def _rows(X) -> np.ndarray:
    """``X`` as samples x features without reading it (a view of the map)."""
    if X.ndim == 0 or len(X) == 0:
        raise EdgepruneError(f"X must hold at least one sample, got an array of shape {X.shape}")
    return X.reshape(len(X), -1)
