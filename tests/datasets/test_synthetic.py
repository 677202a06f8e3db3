import json

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from edgeprune.datasets import read_dataset
from edgeprune.datasets.synthetic import digit_pixels, make_digit_scenes


def test_digit_pixels_map_the_full_range_without_wrapping():
    digit = next(d for d in load_digits().images if (d == 16).any())
    pixels = digit_pixels(digit)
    assert pixels.dtype == np.uint8
    assert pixels[digit == 16].min() == 255  # 16 * 16 = 256 would wrap to 0 in uint8
    assert pixels[digit == 0].max() == 0
    assert np.all(np.diff(pixels.ravel()[np.argsort(digit.ravel(), kind="stable")].astype(int)) >= 0)


def test_scenes_are_a_valid_coco_dataset_with_planted_duplicates(tmp_path):
    annotations = make_digit_scenes(tmp_path, n_images=6, image_size=64, seed=3, duplicates=2)
    data = json.loads(annotations.read_text())
    assert len(data["images"]) == 8
    assert [image.get("duplicate_of") is not None for image in data["images"]] == [False] * 6 + [True] * 2
    dataset = read_dataset(tmp_path)
    assert all(1 <= len(image.boxes) <= 4 for image in dataset.images)
    with Image.open(dataset.images[0].path) as image:
        assert image.size == (64, 64)
