"""Object-level scoring: crop regions, per-category/joint clustering, aggregation to images, category counts."""

import numpy as np
import pytest

from edgeprune.curation.objects import NO_OBJECTS, aggregate, box_counts, cluster_objects
from edgeprune.datasets import read_dataset
from edgeprune.datasets.types import Box, Category, Dataset, ImageRecord
from edgeprune.embed.crops import crop_regions


def _dataset(boxes_per_image):
    images = [
        ImageRecord(i, f"{i}.jpg", 100, 80, boxes=[Box(c, b) for c, b in boxes])
        for i, boxes in enumerate(boxes_per_image)
    ]
    return Dataset(images, [Category(1, "a"), Category(2, "b")], "coco")


def test_crop_regions_pad_enforce_a_minimum_size_clip_and_skip_degenerate_boxes():
    data = _dataset([[(1, (40, 30, 20, 10)), (2, (0, 0, 4, 4)), (1, (10, 10, 0, 5))], []])
    crops = crop_regions(data, padding=0.1, min_size=16)
    assert crops.image_index.tolist() == [0, 0] and crops.box_index.tolist() == [0, 1]
    assert crops.category_id.tolist() == [1, 2]
    np.testing.assert_allclose(crops.regions[0], [38, 27, 62, 43])  # 20x10 box +10% each side, height raised to 16
    np.testing.assert_allclose(crops.regions[1], [0, 0, 10, 10])  # 16 px square around (2, 2), clipped at 0


def test_aggregate_mean_max_and_sum_hard_per_image_with_the_majority_cluster():
    image = np.array([0, 0, 0, 1, 3])
    labels = np.array([0, 1, 1, 0, 1])
    distances = np.array([1.0, 2.0, 4.0, 3.0, 2.0])
    mean, cluster = aggregate(image, labels, distances, 4, "mean")
    np.testing.assert_allclose(mean, [7 / 3, 3.0, 0.0, 2.0])
    assert cluster.tolist() == [1, 0, NO_OBJECTS, 1]
    np.testing.assert_allclose(aggregate(image, labels, distances, 4, "max")[0], [4.0, 3.0, 0.0, 2.0])
    # cluster medians: cluster 0 -> 2.0, cluster 1 -> 2.0; excess over them, summed per image
    np.testing.assert_allclose(aggregate(image, labels, distances, 4, "sum-hard")[0], [2.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        aggregate(image, labels, distances, 4, "median")


def test_per_category_clustering_never_mixes_categories_and_caps_k_by_crops():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, 4)).astype(np.float32)
    category = np.array([1] * 27 + [2] * 3)
    result = cluster_objects(features, category, by="category", clusters="5", category_names={1: "a", 2: "b"})
    names = [result.names[c] for c in result.labels]
    assert all(n.startswith("a/") for n in names[:27]) and all(n.startswith("b/") for n in names[27:])
    assert len({n for n in names if n.startswith("b/")}) <= 3 and len(result.names) == 8  # 5 for a, 3 for b
    joint = cluster_objects(features, category, by="joint", clusters="5")
    assert len(joint.names) == 5 and (joint.distances >= 0).all()


def test_prototypes_are_fitted_only_on_the_crops_marked_fit():
    features = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0]], np.float32)
    result = cluster_objects(features, np.zeros(3, int), by="joint", clusters="1", fit=np.array([1, 1, 0], bool))
    assert result.distances[2] > 10 and result.distances[0] < 0.1


def test_box_counts_on_bccd(bccd):
    counts, names = box_counts(read_dataset(bccd, split="val"))
    assert sorted(names) == ["Platelets", "RBC", "WBC"]
    assert counts.shape == (87, 3) and counts.sum() > 87 and (counts[:, names.index("WBC")] > 0).sum() > 60
