"""Ultralytics YOLO datasets, laid out as Ultralytics documents them and as Roboflow exports them."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgeprune.cli import main
from edgeprune.datasets import detect_format, read_dataset, write_dataset
from edgeprune.datasets.yolo import label_path
from edgeprune.errors import EdgepruneError


def _scenes(digits_coco: Path):
    data = json.loads((digits_coco / "annotations.json").read_text())
    return data, {c["id"]: c["name"] for c in data["categories"]}


def _label_lines(data, entry) -> str:
    lines = []
    for ann in data["annotations"]:
        if ann["image_id"] == entry["id"]:
            x, y, w, h = ann["bbox"]
            cx, cy = (x + w / 2) / entry["width"], (y + h / 2) / entry["height"]
            lines.append(f"{ann['category_id']} {cx:.6f} {cy:.6f} {w / entry['width']:.6f} {h / entry['height']:.6f}\n")
    return "".join(lines)


@pytest.fixture
def ultralytics(tmp_path, digits_coco):
    """The documented layout: datasets/digits/{images,labels}/{train,val}, the yaml elsewhere with ``path``,
    ``names`` as a dict; one background image with an empty label file and one with none."""
    data, names = _scenes(digits_coco)
    root = tmp_path / "datasets" / "digits"
    for index, entry in enumerate(data["images"]):
        split = "train" if index < 30 else "val"
        image = root / "images" / split / entry["file_name"]
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes((digits_coco / "images" / entry["file_name"]).read_bytes())
        if index == 1:
            continue  # no label file: a background image
        label = root / "labels" / split / Path(entry["file_name"]).with_suffix(".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("" if index == 0 else _label_lines(data, entry))
    config = tmp_path / "cfg" / "digits.yaml"
    config.parent.mkdir()
    config.write_text(
        yaml.safe_dump({"path": "../datasets/digits", "train": "images/train", "val": "images/val", "names": names})
    )
    return config, root, data


def test_reads_the_documented_layout(ultralytics):
    config, root, data = ultralytics
    assert detect_format(config) == "yolo"
    train = read_dataset(config)
    assert len(train) == 30 and [c.name for c in train.categories] == [str(d) for d in range(10)]
    assert train.images[0].boxes == [] and train.images[1].boxes == []  # empty and missing label files
    val = read_dataset(config, split="val")
    assert len(val) == len(data["images"]) - 30
    by_name = {img.file_name.rsplit("/", 1)[-1]: img for img in train.images}
    for entry in data["images"][2:30]:
        expected = [a for a in data["annotations"] if a["image_id"] == entry["id"]]
        boxes = by_name[entry["file_name"]].boxes
        assert [b.category_id for b in boxes] == [a["category_id"] for a in expected]
        np.testing.assert_allclose([b.bbox for b in boxes], [a["bbox"] for a in expected], atol=1e-3)


def test_written_back_mirrors_the_tree_with_identical_label_files(ultralytics, tmp_path):
    config, root, _ = ultralytics
    train = read_dataset(config)
    kept = train.subset([i % 2 == 0 for i in range(len(train))])
    write_dataset(kept, tmp_path / "out")
    written = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert written["train"] == "images/train" and written["names"] == {i: str(i) for i in range(10)}
    for img in kept.images:
        assert (tmp_path / "out" / img.file_name).read_bytes() == img.path.read_bytes()
        source_label = label_path(img.path)
        target_label = label_path(tmp_path / "out" / img.file_name)
        assert target_label.is_file() == source_label.is_file()
        if source_label.is_file():
            assert target_label.read_bytes() == source_label.read_bytes()
    again = read_dataset(tmp_path / "out")
    assert [i.file_name for i in again.images] == [i.file_name for i in kept.images]


def test_roboflow_export_with_dotdot_paths_and_a_list_file(tmp_path, digits_coco):
    data, names = _scenes(digits_coco)
    root = tmp_path / "roboflow"
    for split, entries in (("train", data["images"][:20]), ("valid", data["images"][20:])):
        for entry in entries:
            (root / split / "images").mkdir(parents=True, exist_ok=True)
            (root / split / "labels").mkdir(parents=True, exist_ok=True)
            (root / split / "images" / entry["file_name"]).write_bytes(
                (digits_coco / "images" / entry["file_name"]).read_bytes()
            )
            (root / split / "labels" / Path(entry["file_name"]).with_suffix(".txt")).write_text(
                _label_lines(data, entry)
            )
    (root / "valid.txt").write_text("".join(f"./valid/images/{e['file_name']}\n" for e in data["images"][20:25]))
    document = {"train": "../train/images", "val": "valid.txt", "nc": 10, "names": list(names.values())}
    (root / "data.yaml").write_text(yaml.safe_dump(document))
    assert detect_format(root) == "yolo"
    assert len(read_dataset(root)) == 20
    assert len(read_dataset(root, split="val")) == 5


def test_coco_to_yolo_to_coco_keeps_boxes_and_names(tmp_path, digits_coco):
    assert main(["-q", "convert", str(digits_coco), "--out", str(tmp_path / "yolo"), "--out-format", "yolo"]) == 0
    assert main(["-q", "convert", str(tmp_path / "yolo"), "--out", str(tmp_path / "coco"), "--out-format", "coco"]) == 0
    from pycocotools.coco import COCO

    source, back = COCO(str(digits_coco / "annotations.json")), COCO(str(tmp_path / "coco" / "annotations.json"))
    names = lambda c: {cat["id"]: cat["name"] for cat in c.dataset["categories"]}  # noqa: E731
    assert names(source) == names(back)
    by_file = {img["file_name"]: img["id"] for img in back.dataset["images"]}
    for image in source.dataset["images"]:
        found = back.loadAnns(back.getAnnIds(imgIds=[by_file["images/train/" + image["file_name"]]]))
        expected = source.loadAnns(source.getAnnIds(imgIds=[image["id"]]))
        assert [a["category_id"] for a in found] == [a["category_id"] for a in expected]
        np.testing.assert_allclose(
            [a["bbox"] for a in found] or np.zeros((0, 4)), [a["bbox"] for a in expected] or np.zeros((0, 4)), atol=1e-3
        )


@pytest.mark.parametrize(
    "label, message",
    [
        ("3 0.5 0.5 0.2\n", r"\.txt:1: expected 'class cx cy w h', got 4 values"),
        ("0 0.5 0.5 0.2 0.2\n42 0.5 0.5 0.1 0.1\n", r"\.txt:2: class 42 is not in the yaml's names"),
        ("a b c d e\n", r"\.txt:1: not numbers"),
    ],
)
def test_bad_label_lines_name_file_and_line(ultralytics, label, message):
    config, root, _ = ultralytics
    victim = sorted((root / "labels" / "train").glob("*.txt"))[3]
    victim.write_text(label)
    with pytest.raises(EdgepruneError, match=message):
        read_dataset(config)


def test_bad_yaml_is_named(tmp_path, ultralytics):
    config, _, _ = ultralytics
    config.write_text("train: images/train\nnames: 7\n")
    with pytest.raises(EdgepruneError, match=r"digits.yaml: 'names' must be a list"):
        read_dataset(config)
    config.write_text("path: ../datasets/digits\ntrain: images/train\nnames: [a]\n")
    with pytest.raises(EdgepruneError, match=r"no split 'test' \(the yaml lists: train\)"):
        read_dataset(config, split="test")


def test_label_path_replaces_the_last_images_folder():
    assert label_path(Path("/d/images/train/images/a.jpg")) == Path("/d/images/train/labels/a.txt")
    assert label_path(Path("/d/train/a.png")) == Path("/d/train/a.txt")
