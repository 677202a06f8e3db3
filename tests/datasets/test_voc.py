import numpy as np
import pytest

from edgeprune.datasets import check_boxes, read_dataset, write_dataset
from edgeprune.datasets.voc import read_voc
from edgeprune.errors import EdgepruneError
from tests.conftest import assert_same_dataset


def test_reads_bccd(bccd):
    dataset = read_voc(bccd)
    assert len(dataset) == 364
    assert [c.name for c in dataset.categories] == ["Platelets", "RBC", "WBC"]
    assert dataset.box_counts() == {"Platelets": 361, "RBC": 4155, "WBC": 372}
    assert set(dataset.extra["splits"]) == {"train", "val", "trainval", "test"}


def test_split_reads_only_its_ids(bccd):
    assert len(read_voc(bccd, split="val")) == 87
    with pytest.raises(EdgepruneError, match="no split 'nope'"):
        read_voc(bccd, split="nope")


def test_bccd_degenerate_boxes_are_reported_not_fatal(bccd):
    dataset = read_voc(bccd)
    assert check_boxes(dataset, drop=False) == 2
    assert dataset.num_boxes() == 4888
    assert check_boxes(dataset, drop=True) == 2
    assert dataset.num_boxes() == 4886


def test_round_trip_copies_xml_and_filters_splits(tmp_path, bccd):
    dataset = read_voc(bccd, split="val")
    write_dataset(dataset, tmp_path / "out")
    again = read_voc(tmp_path / "out")
    assert_same_dataset(dataset, again)
    for img in dataset.images:
        assert (tmp_path / "out" / "Annotations" / f"{img.id}.xml").read_bytes() == img.extra["voc_xml"].read_bytes()
    assert (tmp_path / "out" / "ImageSets" / "Main" / "val.txt").read_text().split() == sorted(
        str(i.id) for i in dataset.images
    )
    assert sorted(p.name for p in (tmp_path / "out" / "ImageSets" / "Main").iterdir()) == ["val.txt"]


def test_dropped_boxes_regenerate_the_xml(tmp_path, bccd):
    dataset = read_voc(bccd)
    check_boxes(dataset, drop=True)
    bad = dataset.subset([img.file_name == "BloodImage_00338.jpg" for img in dataset.images])
    write_dataset(bad, tmp_path / "out")
    again = read_voc(tmp_path / "out")
    assert check_boxes(again, drop=False) == 0
    assert again.num_boxes() == bad.num_boxes()


def test_coco_to_voc_conversion_keeps_boxes(tmp_path, digits_coco):
    coco = read_dataset(digits_coco)
    write_dataset(coco, tmp_path / "voc", format="voc")
    voc = read_dataset(tmp_path / "voc")
    assert voc.format == "voc" and len(voc) == len(coco)
    assert sorted(voc.box_counts().values()) == sorted(v for v in coco.box_counts().values() if v)


def _voc_copy(tmp_path, bccd, n=3):
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for xml in sorted((bccd / "Annotations").glob("*.xml"))[:n]:
        (root / "Annotations" / xml.name).write_bytes(xml.read_bytes())
        jpg = bccd / "JPEGImages" / f"{xml.stem}.jpg"
        (root / "JPEGImages" / jpg.name).write_bytes(jpg.read_bytes())
    return root


def test_malformed_xml_names_file(tmp_path, bccd):
    root = _voc_copy(tmp_path, bccd)
    broken = sorted((root / "Annotations").glob("*.xml"))[1]
    broken.write_text("<annotation><object>")
    with pytest.raises(EdgepruneError, match=f"{broken.name}: malformed XML"):
        read_dataset(root)


def test_missing_image_names_annotation(tmp_path, bccd):
    root = _voc_copy(tmp_path, bccd)
    victim = sorted((root / "JPEGImages").glob("*.jpg"))[0]
    victim.unlink()
    with pytest.raises(EdgepruneError, match=f"{victim.stem}.xml: points at missing image"):
        read_dataset(root)


def _small_voc(tmp_path, bccd, ids):
    """A VOC copy of a few BCCD images with per-class split files (``<class>_<split>.txt``, 1 / -1 column)."""
    root = tmp_path / "voc"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    for image_id in ids:
        (root / "Annotations" / f"{image_id}.xml").write_bytes((bccd / "Annotations" / f"{image_id}.xml").read_bytes())
        (root / "JPEGImages" / f"{image_id}.jpg").write_bytes((bccd / "JPEGImages" / f"{image_id}.jpg").read_bytes())
    main = root / "ImageSets" / "Main"
    (main / "train.txt").write_text("".join(f"{i}\n" for i in ids[:3]))
    (main / "val.txt").write_text("".join(f"{i}\n" for i in ids[3:]))
    (main / "WBC_train.txt").write_text("".join(f"{i} {1 if n % 2 else -1}\n" for n, i in enumerate(ids[:3])))
    (main / "WBC_val.txt").write_text("".join(f"{i}  1\n" for i in ids[3:]))
    return root


def test_split_files_keep_their_columns_and_only_the_split_read_is_written(tmp_path, bccd):
    ids = (bccd / "ImageSets" / "Main" / "train.txt").read_text().split()[:5]
    root = _small_voc(tmp_path, bccd, ids)
    train = read_voc(root, split="train")
    write_dataset(train.subset([True, False, True]), tmp_path / "out")
    main = tmp_path / "out" / "ImageSets" / "Main"
    assert sorted(p.name for p in main.iterdir()) == ["WBC_train.txt", "train.txt"]
    assert (main / "WBC_train.txt").read_text() == f"{ids[0]} -1\n{ids[2]} -1\n"
    assert (main / "train.txt").read_text() == f"{ids[0]}\n{ids[2]}\n"


def test_regenerated_xml_keeps_fractional_and_integer_coordinates(tmp_path, digits_coco):
    import json

    data = json.loads((digits_coco / "annotations.json").read_text())
    data["annotations"][0]["bbox"] = [10.25, 4.0, 20.5, 8.0]
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "annotations.json").write_text(json.dumps(data))
    (tmp_path / "coco" / "images").symlink_to(digits_coco / "images")
    write_dataset(read_dataset(tmp_path / "coco"), tmp_path / "voc", format="voc")
    image = next(i for i in data["images"] if i["id"] == data["annotations"][0]["image_id"])
    xml = (tmp_path / "voc" / "Annotations" / image["file_name"].replace(".jpg", ".xml")).read_text()
    assert "<xmin>10.25</xmin>" in xml and "<ymin>4</ymin>" in xml and "<xmax>30.75</xmax>" in xml
    again = read_dataset(tmp_path / "voc")
    box = next(i for i in again.images if i.file_name == image["file_name"]).boxes[0]
    assert box.bbox == (10.25, 4.0, 20.5, 8.0)


def test_escaping_filename_is_an_error(tmp_path, bccd):
    ids = (bccd / "ImageSets" / "Main" / "train.txt").read_text().split()[:4]
    root = _small_voc(tmp_path, bccd, ids)
    xml = root / "Annotations" / f"{ids[0]}.xml"
    xml.write_text(
        xml.read_text().replace(f"<filename>{ids[0]}.jpg</filename>", "<filename>../../etc/passwd</filename>")
    )
    with pytest.raises(EdgepruneError, match=r"<filename> '../../etc/passwd' is absolute or leaves the dataset"):
        read_voc(root)


def test_voc_to_tfrecord_to_voc_keeps_boxes_and_names(tmp_path, bccd):
    from edgeprune.cli import main

    args = ["-q", "convert", str(bccd), "--split", "val", "--out", str(tmp_path / "rec"), "--out-format", "tfrecord"]
    assert main(args) == 0
    assert main(["-q", "convert", str(tmp_path / "rec"), "--out", str(tmp_path / "voc"), "--out-format", "voc"]) == 0
    source, back = read_voc(bccd, split="val"), read_voc(tmp_path / "voc")
    assert [c.name for c in back.categories] == [c.name for c in source.categories]
    names = lambda d: {c.id: c.name for c in d.categories}  # noqa: E731
    by_file = {img.file_name: img for img in back.images}
    for img in source.images:
        other = by_file[img.file_name]
        assert [names(source)[b.category_id] for b in img.boxes] == [names(back)[b.category_id] for b in other.boxes]
        assert np.allclose([b.bbox for b in other.boxes], [b.bbox for b in img.boxes], atol=1e-3)
