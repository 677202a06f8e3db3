import json
from pathlib import Path

import pytest

from edgeprune.datasets import detect_format, read_dataset, write_dataset
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
        (lambda d: d["images"][1].update(id=d["images"][0]["id"]), "duplicate image id"),
        (lambda d: d["images"][1].update(file_name=d["images"][0]["file_name"]), "share the file_name"),
        (lambda d: d["images"][0].update(file_name="../../../../etc/passwd"), "leaves the dataset folder"),
        (lambda d: d["images"][0].update(file_name="/etc/passwd"), "'/etc/passwd' is absolute"),
    ],
)
def test_bad_annotations_are_named(coco_copy, mutate, message):
    root, data, images = coco_copy
    mutate(data)
    path = _write(root, data)
    with pytest.raises(EdgepruneError, match=message):
        read_dataset(path, images_dir=images)


def _official_layout(root: Path, digits_coco: Path) -> Path:
    """The COCO 2017 layout: annotations/instances_{train,val}2017.json with train2017/ and val2017/."""
    data = json.loads((digits_coco / "annotations.json").read_text())
    (root / "annotations").mkdir(parents=True)
    for split, images in (("train2017", data["images"][:30]), ("val2017", data["images"][30:])):
        (root / split).mkdir()
        for entry in images:
            (root / split / entry["file_name"]).write_bytes((digits_coco / "images" / entry["file_name"]).read_bytes())
        ids = {e["id"] for e in images}
        part = {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(part))
    return root


def test_official_coco_layout_is_read_per_split(tmp_path, digits_coco):
    root = _official_layout(tmp_path / "coco", digits_coco)
    assert detect_format(root) == "coco"
    val = read_dataset(root, split="val2017")
    assert len(val) == 13 and val.num_boxes() > 0
    assert all(img.path.parent == root / "val2017" for img in val.images)
    assert len(read_dataset(root, split="train2017")) == 30
    with pytest.raises(
        EdgepruneError, match=r"several COCO annotation files .*pick one with split=\.\.\. \(train2017, val2017\)"
    ):
        read_dataset(root)
    with pytest.raises(EdgepruneError, match=r"no COCO annotations for split 'test2017'"):
        read_dataset(root, split="test2017")


def test_curate_refuses_the_official_layout_without_split(tmp_path, digits_coco, capsys):
    from edgeprune.cli import main

    root = _official_layout(tmp_path / "coco", digits_coco)
    assert main(["curate", str(root), "--out", str(tmp_path / "out")]) == 2
    assert "pick one with --split" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_roboflow_and_cvat_layouts(tmp_path, digits_coco):
    data = json.loads((digits_coco / "annotations.json").read_text())
    roboflow = tmp_path / "roboflow" / "train"
    roboflow.mkdir(parents=True)
    for entry in data["images"]:
        (roboflow / entry["file_name"]).write_bytes((digits_coco / "images" / entry["file_name"]).read_bytes())
    (roboflow / "_annotations.coco.json").write_text(json.dumps(data))
    assert len(read_dataset(roboflow)) == len(data["images"])

    cvat = tmp_path / "cvat"
    (cvat / "images" / "task_1").mkdir(parents=True)
    for entry in data["images"]:
        (cvat / "images" / "task_1" / entry["file_name"]).write_bytes(
            (digits_coco / "images" / entry["file_name"]).read_bytes()
        )
        entry["file_name"] = f"task_1/{entry['file_name']}"
    (cvat / "annotations").mkdir()
    (cvat / "annotations" / "instances_default.json").write_text(json.dumps(data))
    dataset = read_dataset(cvat)
    assert dataset.images[0].file_name.startswith("task_1/") and dataset.images[0].path.is_file()
    write_dataset(dataset.subset([i < 5 for i in range(len(dataset))]), tmp_path / "out")
    assert len(list((tmp_path / "out" / "images" / "task_1").iterdir())) == 5


def test_annotation_files_never_read_as_an_image_folder(tmp_path, digits_coco):
    root = tmp_path / "labelled"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "a.png").write_bytes(next((digits_coco / "images").iterdir()).read_bytes())
    (root / "cats" / "a.xml").write_text("<annotation/>")
    with pytest.raises(EdgepruneError, match=r"holds annotation files \(cats/a.xml\)"):
        detect_format(root)
