"""Object-level prototypes: cluster box crops (per category or jointly), score each object, and aggregate the
object scores to one score and one cluster per image, so the image-level selection policies apply unchanged.

Aggregations (``--aggregate``):

- ``mean``: the image's average object distance (a typical object's difficulty).
- ``max``: its hardest object (one rare-looking object makes the image hard).
- ``sum-hard``: the sum, over its objects, of how far each lies beyond the median distance of its cluster
  (``max(0, d - median)``): images with many unusually hard objects score highest, crowds of typical ones do not.

Images without any usable box score 0 (nothing hard in them) and form their own group, label ``-1``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..cluster import fit_prototypes
from ..cluster.autok import choose_k
from .score import prototype_scores

log = logging.getLogger(__name__)
AGGREGATES = ("mean", "max", "sum-hard")
GROUPINGS = ("category", "joint")
NO_OBJECTS = -1


@dataclass
class ObjectClusters:
    """The clustering of the crops: a global cluster id and a distance per crop, and names for the clusters."""

    labels: np.ndarray  # [M] global cluster id
    distances: np.ndarray  # [M] distance to the nearest prototype of the crop's group
    names: dict[int, str] = field(default_factory=dict)  # cluster id -> "category/k" or "k"
    reasons: list[str] = field(default_factory=list)


def _cluster_group(features: np.ndarray, fit: np.ndarray, spec: str, method: str, seed: int, metric: str) -> tuple:
    """Cluster one group of crops; ``fit`` marks the crops the prototypes are fitted on."""
    fitted = features[fit]
    if len(fitted) < 2:
        centers = fitted.mean(axis=0, keepdims=True) if len(fitted) else features.mean(axis=0, keepdims=True)
        labels, distances = prototype_scores(features, centers.astype(np.float32), metric)
        return labels, distances, 1, "fewer than 2 crops: one prototype"
    text = str(spec).strip().lower()
    k, reason = choose_k(text if not text.isdigit() else min(int(text), len(fitted)), fitted, random_state=seed)
    clusterer = fit_prototypes(method, k, fitted, random_state=seed, metric=metric)
    labels, distances = prototype_scores(features, clusterer.cluster_centers_, metric)
    return labels, distances, k, reason


def cluster_objects(
    features: np.ndarray,
    category_id: np.ndarray,
    *,
    by: str = "category",
    clusters: str = "10",
    method: str = "kmeans",
    seed: int = 0,
    fit: np.ndarray | None = None,
    category_names: dict[int, str] | None = None,
    metric: str = "euclidean",
) -> ObjectClusters:
    """Cluster crop features per category (``by="category"``, ``clusters`` is then the count per category, capped
    by its number of crops) or all together (``by="joint"``)."""
    fit = np.ones(len(features), bool) if fit is None else np.asarray(fit, bool)
    labels = np.zeros(len(features), np.int64)
    distances = np.zeros(len(features), np.float64)
    result = ObjectClusters(labels, distances)
    groups = np.unique(category_id) if by == "category" else [None]
    offset = 0
    for group in groups:
        members = np.flatnonzero(category_id == group) if group is not None else np.arange(len(features))
        found, dist, k, reason = _cluster_group(features[members], fit[members], clusters, method, seed, metric)
        labels[members] = found + offset
        distances[members] = dist
        name = (category_names or {}).get(int(group), str(group)) if group is not None else ""
        for c in range(k):
            result.names[offset + c] = f"{name}/{c}" if name else str(c)
        result.reasons.append(f"{name or 'all objects'}: {len(members)} crops, {reason}")
        offset += k
    return result


def aggregate(
    image_index: np.ndarray, labels: np.ndarray, distances: np.ndarray, n_images: int, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, cluster)`` per image from its objects: the score as ``how`` says, the cluster its objects fall in
    most often (ties: the lower id). Images without objects get score 0 and cluster ``NO_OBJECTS``."""
    if how not in AGGREGATES:
        raise ValueError(f"unknown aggregate {how!r}; choose one of {', '.join(AGGREGATES)}")
    image_index = np.asarray(image_index, np.int64)
    distances = np.asarray(distances, np.float64)
    counts = np.bincount(image_index, minlength=n_images)
    if how == "mean":
        scores = np.bincount(image_index, distances, minlength=n_images) / np.maximum(counts, 1)
    elif how == "max":
        scores = np.zeros(n_images)
        np.maximum.at(scores, image_index, distances)
    else:
        medians = np.zeros(labels.max() + 1 if len(labels) else 0)
        for cluster in np.unique(labels):
            medians[cluster] = np.median(distances[labels == cluster])
        excess = np.maximum(0.0, distances - medians[labels])
        scores = np.bincount(image_index, excess, minlength=n_images)
    image_labels = np.full(n_images, NO_OBJECTS, np.int64)
    if len(labels):
        pairs, pair_counts = np.unique(np.stack([image_index, labels], axis=1), axis=0, return_counts=True)
        order = np.lexsort((pairs[:, 1], -pair_counts, pairs[:, 0]))  # per image: most objects, then lower id
        first = np.r_[True, np.diff(pairs[order, 0]) != 0]
        image_labels[pairs[order][first, 0]] = pairs[order][first, 1]
    return scores, image_labels


def box_counts(dataset) -> tuple[np.ndarray, list[str]]:
    """``[n_images, n_categories]`` box counts and the category names, in the dataset's category order."""
    ids = [c.id for c in dataset.categories]
    column = {cid: j for j, cid in enumerate(ids)}
    counts = np.zeros((len(dataset), len(ids)), np.int64)
    for i, img in enumerate(dataset.images):
        for box in img.boxes:
            if box.category_id in column:
                counts[i, column[box.category_id]] += 1
    return counts, [c.name for c in dataset.categories]
