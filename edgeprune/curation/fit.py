"""The fit stage: prototypes of the image embeddings (k chosen or given), or per-category/joint prototypes of the
box crops; then every image's cluster and distance to its nearest prototype."""

from __future__ import annotations

import time

import numpy as np

from ..cluster import fit_prototypes
from ..cluster.autok import choose_k
from .features import option_features, score_metric
from .objects import aggregate, cluster_objects
from .score import prototype_scores
from .types import Clustering, CurateOptions


def fit_image_prototypes(
    features: np.ndarray, *, clusters: str, method: str, seed: int, metric: str
) -> tuple[np.ndarray, int, list[str]]:
    """``(prototypes, k, notes)`` fitted on ``features`` (the local runner's candidates, the Beam runner's
    sample)."""
    k, reason = choose_k(clusters, features, random_state=seed)
    clusterer = fit_prototypes(method, k, features, random_state=seed, metric=metric)
    notes = [f"clusters: {reason}"]
    if getattr(clusterer, "collapsed_", False):
        notes.append(
            f"{method}: the prototypes collapsed onto each other (fuzzy c-means with m=2 in {features.shape[1]} "
            "dimensions), so scores are distances to the data mean; kmeans or hcm avoid it"
        )
    return np.asarray(clusterer.cluster_centers_), k, notes


def cluster_images(
    features: np.ndarray, candidates: np.ndarray, options: CurateOptions, timings: dict[str, float]
) -> Clustering:
    """Image level: prototypes fitted on the candidates (dedup's survivors), every image scored against them."""
    started = time.perf_counter()
    metric = score_metric(options.clustering.normalize)
    centers, k, notes = fit_image_prototypes(
        features if candidates.all() else features[candidates],  # no copy of a large matrix when nothing left
        clusters=options.clustering.clusters,
        method=options.clustering.method,
        seed=options.seed,
        metric=metric,
    )
    labels, distances = prototype_scores(features, centers, metric)
    timings["cluster"] = time.perf_counter() - started
    return Clustering(labels, distances, k, notes)


def cluster_crops(
    dataset, crops, crop_embeddings: np.ndarray, candidates: np.ndarray, options: CurateOptions, timings
) -> Clustering:
    """Object level: crops clustered per category (or jointly); an image's score aggregates its objects'."""
    started = time.perf_counter()
    objects = cluster_objects(
        option_features(crop_embeddings, options.clustering),
        crops.category_id,
        by=options.clustering.object_clusters,
        clusters=options.clustering.clusters,
        method=options.clustering.method,
        seed=options.seed,
        fit=candidates[crops.image_index],
        category_names=dataset.category_names,
        metric=score_metric(options.clustering.normalize),
    )
    distances, labels = aggregate(
        crops.image_index, objects.labels, objects.distances, len(dataset), options.clustering.aggregate
    )
    notes = [
        f"object level: {len(crops)} crops of {dataset.num_boxes()} boxes, clustered by "
        f"{options.clustering.object_clusters}; image score = {options.clustering.aggregate} of its objects",
        *(f"clusters: {reason}" for reason in objects.reasons),
    ]
    timings["cluster"] = time.perf_counter() - started
    return Clustering(labels, distances, len(objects.names), notes, crops, objects)
