"""The embeddings as clustering, scoring, dedup and the report see them."""

from __future__ import annotations

import numpy as np

from ..vectors import center as center_rows
from ..vectors import l2_normalize


def score_metric(normalize: bool) -> str:
    """Cosine distance to normalised prototypes (spherical k-means) on normalised embeddings, Euclidean otherwise."""
    return "cosine" if normalize else "euclidean"


def scoring_features(embeddings: np.ndarray, *, center: bool = True, normalize: bool = True) -> np.ndarray:
    """Centred (on the rows' mean) and L2-normalised embeddings, unless told not to."""
    features = center_rows(embeddings) if center else embeddings
    return l2_normalize(features) if normalize else features


def option_features(embeddings: np.ndarray, clustering) -> np.ndarray:
    """:func:`scoring_features` with a run's ``center`` / ``normalize`` (a
    :class:`~edgeprune.curation.types.ClusteringSettings`)."""
    return scoring_features(embeddings, center=clustering.center, normalize=clustering.normalize)
