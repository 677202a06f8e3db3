"""The embeddings as clustering, scoring, dedup and the report see them."""

from __future__ import annotations

import numpy as np

from ..storage import blocks, empty_rows
from ..vectors import l2_normalize


def score_metric(normalize: bool) -> str:
    """Cosine distance to normalised prototypes (spherical k-means) on normalised embeddings, Euclidean otherwise."""
    return "cosine" if normalize else "euclidean"


def scoring_features(embeddings: np.ndarray, *, center: bool = True, normalize: bool = True) -> np.ndarray:
    """Centred (on the rows' mean) and L2-normalised embeddings, unless told not to.

    Computed a block of rows at a time into one new matrix (file-backed when large,
    :func:`edgeprune.storage.empty_rows`), so a memory-mapped ``embeddings`` is read once and never copied whole
    into memory; each row comes out exactly as :func:`edgeprune.vectors.center` and ``l2_normalize`` make it.
    """
    if not center and not normalize:
        return embeddings
    X = embeddings if not center or embeddings.dtype == np.float32 else np.asarray(embeddings, np.float32)
    mean = X.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32) if center else None
    dtype = np.float64 if X.dtype == np.float64 else np.float32
    features = empty_rows(len(X), X.shape[1], dtype)
    for part in blocks(len(X), X.shape[1] * 8):  # float64 while a row is normalised
        block = np.asarray(X[part], dtype)
        if center:
            block = block - mean
        features[part] = l2_normalize(block) if normalize else block
    return features


def scored_features(scored, clustering) -> np.ndarray:
    """The features of a :class:`~edgeprune.curation.types.Scored`'s images: those its runner computed, else
    :func:`option_features` of its embeddings."""
    return scored.features if scored.features is not None else option_features(scored.embeddings, clustering)


def option_features(embeddings: np.ndarray, clustering) -> np.ndarray:
    """:func:`scoring_features` with a run's ``center`` / ``normalize`` (a
    :class:`~edgeprune.curation.types.ClusteringSettings`)."""
    return scoring_features(embeddings, center=clustering.center, normalize=clustering.normalize)
