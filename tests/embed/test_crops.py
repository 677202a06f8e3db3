"""Crop embedding: every box cut with context in the tf.data pipeline, in crop order, through the cache."""

import numpy as np
import pytest
from PIL import Image

from edgeprune.datasets import read_dataset
from edgeprune.datasets.types import Box, Category, Dataset, ImageRecord
from edgeprune.embed import load_backbone
from edgeprune.embed.crops import crop_regions, embed_crops
from edgeprune.errors import EdgepruneError


def _two_colour_dataset(tmp_path) -> Dataset:
    """Two PNGs: red left half / blue right half, and the reverse; one box on each half."""
    images = []
    for i, (left, right) in enumerate([((255, 0, 0), (0, 0, 255)), ((0, 0, 255), (255, 0, 0))]):
        pixels = np.zeros((40, 80, 3), np.uint8)
        pixels[:, :40], pixels[:, 40:] = left, right
        path = tmp_path / f"{i}.png"
        Image.fromarray(pixels).save(path)
        boxes = [Box(1, (5, 5, 20, 20)), Box(2, (50, 10, 20, 20))]
        images.append(ImageRecord(i, path.name, 80, 40, path=path, boxes=boxes))
    return Dataset(images, [Category(1, "left"), Category(2, "right")], "coco", source=tmp_path)


def test_each_crop_sees_only_its_own_region(tmp_path, pixel_backbone):
    data = _two_colour_dataset(tmp_path)
    backbone = load_backbone(pixel_backbone, image_size=16)
    crops = crop_regions(data, padding=0.0, min_size=0)
    embeddings, counts = embed_crops(data, crops, backbone, batch_size=3, progress=False)
    mean_rgb = embeddings.reshape(4, -1, 3).mean(axis=1)
    red, blue = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    np.testing.assert_allclose(mean_rgb, [red, blue, blue, red], atol=1e-5)
    assert counts == {"cached": 0, "computed": 4}


def test_second_run_comes_from_the_cache_and_bytes_equal_paths(tmp_path, digits_coco, tiny_backbone):
    data = read_dataset(digits_coco)
    backbone = load_backbone(tiny_backbone, image_size=32)
    crops = crop_regions(data)
    first, counts = embed_crops(data, crops, backbone, cache_root=tmp_path / "c", batch_size=16, progress=False)
    assert counts["computed"] == len(crops) == data.num_boxes()
    again, counts = embed_crops(data, crops, backbone, cache_root=tmp_path / "c", progress=False)
    assert counts == {"cached": len(crops), "computed": 0}
    np.testing.assert_array_equal(first, again)
    for img in data.images:
        img.encoded, img.path = img.read_bytes(), None
    from_bytes, _ = embed_crops(data, crops, backbone, batch_size=16, progress=False)
    np.testing.assert_allclose(from_bytes, first, atol=1e-6)


def test_a_corrupt_image_is_named(tmp_path, tiny_backbone):
    data = _two_colour_dataset(tmp_path)
    data.images[1].path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    backbone = load_backbone(tiny_backbone, image_size=32)
    with pytest.raises(EdgepruneError, match="1.png: not a readable image"):
        embed_crops(data, crop_regions(data), backbone, progress=False)


def test_no_boxes_is_a_clear_error(tmp_path, tiny_backbone):
    path = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(path)
    data = Dataset([ImageRecord(0, "a.png", 8, 8, path=path)], [], "folder", source=tmp_path)
    with pytest.raises(EdgepruneError, match="no usable boxes"):
        embed_crops(data, crop_regions(data), load_backbone(tiny_backbone, image_size=32), progress=False)
