import json
from pathlib import Path

import pytest

from edgeprune.datasets import read_dataset, write_dataset
from edgeprune.datasets.coco import read_coco
from edgeprune.errors import EdgepruneError
from tests.conftest import assert_same_dataset


def _write(root: Path, data) -> Path:
    path = root / "annotations.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.fixture
def coco_copy(tmp_path, digits_coco):
    """A writable copy of the generated COCO dataset's annotations (images shared)."""
    data = json.loads((digits_coco / "annotations.json").read_text())
    return tmp_path, data, digits_coco / "images"


def test_reads_generated_scenes_with_category_zero(digits_coco):
    dataset = read_coco(digits_coco)
    assert len(dataset) == 43
    assert {c.id for c in dataset.categories} == set(range(10))
    assert dataset.categories[0].supercategory == "digit"
    assert dataset.num_boxes() == sum(len(i.boxes) for i in dataset.images) > 40
    assert dataset.extra["coco"]["info"]["description"].startswith("edgeprune")


def test_round_trip_keeps_everything(tmp_path, coco_copy):
    root, data, images = coco_copy
    data["annotations"][0]["segmentation"] = [[1, 1, 5, 1, 5, 5]]
    data["annotations"][1]["iscrowd"] = 1
    data["images"][0]["license"] = 1
    source = _write(root, data)
    original = read_dataset(source, images_dir=images)
    write_dataset(original, tmp_path / "out")
    again = read_dataset(tmp_path / "out")
    assert_same_dataset(original, again)
    written = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert written["info"] == data["info"] and written["licenses"] == data["licenses"]
    assert written["annotations"][:2] == data["annotations"][:2]
    assert written["images"][0]["license"] == 1


def test_subset_copies_only_kept_images_unchanged(tmp_path, digits_coco):
    dataset = read_coco(digits_coco)
    mask = [i % 3 == 0 for i in range(len(dataset))]
    write_dataset(dataset.subset(mask), tmp_path / "out")
    kept = read_dataset(tmp_path / "out")
    assert len(kept) == sum(mask) == len(list((tmp_path / "out" / "images").iterdir()))
    for img in kept.images:
        assert img.read_bytes() == (digits_coco / "images" / img.file_name).read_bytes()


def test_malformed_json_names_file_and_line(tmp_path):
    path = _write(tmp_path, '{"images": [\n{"id": 1,,}]}')
    with pytest.raises(EdgepruneError, match=r"annotations.json: malformed JSON at line 2"):
        read_dataset(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("annotations"), "missing or non-list 'annotations'"),
        (lambda d: d["images"][0].update(file_name="nope.jpg"), "points at missing file"),
        (lambda d: d["annotations"][0].update(image_id=99999), "unknown image 99999"),
        (lambda d: d["annotations"][0].update(category_id=77), "unknown category 77"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2]), "expected \\[x,y,w,h\\]"),
    ],
)
def test_bad_annotations_are_named(coco_copy, mutate, message):
    root, data, images = coco_copy
    mutate(data)
    path = _write(root, data)
    with pytest.raises(EdgepruneError, match=message):
        read_dataset(path, images_dir=images)
