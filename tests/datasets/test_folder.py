import shutil

import pytest

from edgeprune.datasets import detect_format, read_dataset, write_dataset
from edgeprune.errors import EdgepruneError
from tests.conftest import assert_same_dataset


@pytest.fixture
def class_folder(tmp_path, digits_coco):
    root = tmp_path / "folder"
    images = sorted((digits_coco / "images").glob("*.jpg"))
    for index, image in enumerate(images[:12]):
        target = root / ("cats" if index % 2 else "dogs") / image.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, target)
    shutil.copy(images[12], root / images[12].name)
    return root


def test_subfolders_are_classes(class_folder):
    dataset = read_dataset(class_folder)
    assert dataset.format == "folder"
    assert [c.name for c in dataset.categories] == ["cats", "dogs"]
    assert dataset.box_counts() == {"cats": 6, "dogs": 6}
    assert sum(img.label is None for img in dataset.images) == 1


def test_round_trip(tmp_path, class_folder):
    dataset = read_dataset(class_folder)
    write_dataset(dataset, tmp_path / "out")
    assert_same_dataset(dataset, read_dataset(tmp_path / "out"))


def test_detects_every_format(tmp_path, digits_coco, bccd):
    assert detect_format(digits_coco) == "coco"
    assert detect_format(digits_coco / "annotations.json") == "coco"
    assert detect_format(bccd) == "voc"
    assert detect_format(digits_coco / "images") == "folder"


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(EdgepruneError, match="no such file or directory"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EdgepruneError, match="unknown dataset format"):
        read_dataset(tmp_path)
    with pytest.raises(EdgepruneError, match="format=darknet is unknown; choose one of coco, voc, .*, video"):
        read_dataset(tmp_path, format="darknet")


def test_empty_dataset_is_an_error(tmp_path):
    (tmp_path / "annotations.json").write_text('{"images": [], "annotations": [], "categories": []}')
    with pytest.raises(EdgepruneError, match="holds no images"):
        read_dataset(tmp_path)


def test_not_an_image_is_named(tmp_path):
    (tmp_path / "fake.jpg").write_text("not really")
    with pytest.raises(EdgepruneError, match="fake.jpg: not a readable image"):
        read_dataset(tmp_path, format="folder")


def test_folder_labels_survive_coco_and_same_names_are_never_overwritten(tmp_path, digits_coco):
    from edgeprune.cli import main

    source = sorted((digits_coco / "images").glob("*.jpg"))
    root = tmp_path / "classes"
    for label, files in (("cat", source[:3]), ("dog", source[3:6])):
        (root / label).mkdir(parents=True)
        for index, path in enumerate(files):
            (root / label / f"{index}.jpg").write_bytes(path.read_bytes())  # the same names in both folders
    assert main(["-q", "convert", str(root), "--out", str(tmp_path / "coco"), "--out-format", "coco"]) == 0
    assert (
        main(["-q", "convert", str(tmp_path / "coco"), "--out", str(tmp_path / "back"), "--out-format", "folder"]) == 0
    )
    assert sorted(p.relative_to(tmp_path / "back").as_posix() for p in (tmp_path / "back").rglob("*.jpg")) == [
        f"{label}/{i}.jpg" for label in ("cat", "dog") for i in range(3)
    ]
    for fmt, folder in (("voc", "JPEGImages"), ("yolo", "images/train")):
        assert main(["-q", "convert", str(root), "--out", str(tmp_path / fmt), "--out-format", fmt]) == 0
        written = sorted(p.name for p in (tmp_path / fmt / folder).iterdir())
        assert written == ["0.jpg", "0_1.jpg", "1.jpg", "1_1.jpg", "2.jpg", "2_1.jpg"]
