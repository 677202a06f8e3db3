"""Category mapping (``--map-categories``): merge, rename, drop and ``*``, checked in the formats' real readers."""

from __future__ import annotations

import json

import pytest

from edgeprune.cli import main
from edgeprune.datasets import read_dataset
from edgeprune.datasets.mapping import map_categories, parse_mapping
from edgeprune.datasets.tfrecord import parse_label_map
from edgeprune.errors import EdgepruneError


def test_parse_text_and_files(tmp_path):
    assert parse_mapping("RBC=cell, WBC=cell,Platelets=") == {"RBC": "cell", "WBC": "cell", "Platelets": None}
    (tmp_path / "m.yaml").write_text("RBC: cell\nPlatelets: null\n'*': other\n")
    assert parse_mapping(tmp_path / "m.yaml") == {"RBC": "cell", "Platelets": None, "*": "other"}
    (tmp_path / "m.json").write_text(json.dumps({"WBC": "white", "RBC": ""}))
    assert parse_mapping(str(tmp_path / "m.json")) == {"WBC": "white", "RBC": None}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("RBC", r"'RBC' is not SRC=DST"),
        ("RBC=a,RBC=b", "'RBC' is mapped twice"),
        ("Neutrophil=cell", r"names 'Neutrophil', not a class of .*; its classes are Platelets, RBC, WBC"),
        ("*=", "drops every class"),
        ("missing.yaml", "no such mapping file"),
    ],
)
def test_bad_specs_are_one_line_errors(bccd, spec, message):
    with pytest.raises(EdgepruneError, match=message):
        read_dataset(bccd, split="test", map_categories=spec)


def test_merge_rename_and_drop_on_bccd(bccd):
    source = read_dataset(bccd, split="test")
    counts = source.box_counts()
    merged = map_categories(source, "RBC=cell,WBC=cell,Platelets=")
    assert [(c.id, c.name) for c in merged.categories] == [(2, "cell")]  # the smallest id of its sources
    assert merged.box_counts() == {"cell": counts["RBC"] + counts["WBC"]}
    assert len(merged) == len(source)  # images whose boxes all went stay, as background
    renamed = map_categories(source, {"RBC": "red", "WBC": "white"})
    assert [(c.id, c.name) for c in renamed.categories] == [(1, "Platelets"), (2, "red"), (3, "white")]
    agnostic = map_categories(source, "*=debris")
    assert agnostic.box_counts() == {"debris": sum(counts.values())}
    assert source.box_counts() == counts  # the source dataset is not edited
    assert all("voc_xml" not in img.extra for img in agnostic.images)  # the XML files would bring the old names


def test_convert_with_a_mapping_is_read_by_pycocotools_and_model_gardens_decoder(tmp_path, bccd):
    import tensorflow as tf
    from official.vision.dataloaders.tf_example_decoder import TfExampleDecoder
    from pycocotools.coco import COCO

    spec = "RBC=cell,WBC=cell,Platelets="
    for fmt in ("coco", "tfrecord", "voc", "yolo"):
        argv = ["-q", "convert", str(bccd), "--split", "test", "--out", str(tmp_path / fmt), "--out-format", fmt]
        assert main([*argv, "--map-categories", spec]) == 0
    expected = read_dataset(bccd, split="test", map_categories=spec)
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cell"]
    assert len(coco.getAnnIds()) == expected.num_boxes()
    decoder = TfExampleDecoder()
    classes = []
    for raw in tf.data.TFRecordDataset(sorted(str(p) for p in (tmp_path / "tfrecord").glob("*.record*"))):
        classes += decoder.decode(raw)["groundtruth_classes"].numpy().tolist()
    label_map = parse_label_map(tmp_path / "tfrecord" / "label_map.pbtxt")  # the format's id rule: ids kept
    assert [(c.id, c.name) for c in label_map] == [(2, "cell")]
    assert set(classes) == {2} and len(classes) == expected.num_boxes()
    voc = read_dataset(tmp_path / "voc")
    assert [c.name for c in voc.categories] == ["cell"] and voc.num_boxes() == expected.num_boxes()
    lines = [line for p in (tmp_path / "yolo" / "labels").rglob("*.txt") for line in p.read_text().splitlines()]
    assert len(lines) == expected.num_boxes() and {line.split()[0] for line in lines} == {"0"}


def test_yolo_to_yolo_merge_rewrites_the_labels(tmp_path, bccd):
    """A YOLO source keeps its folder layout, but a merged class means new label files, not the source's."""
    assert (
        main(["-q", "convert", str(bccd), "--split", "test", "--out", str(tmp_path / "y"), "--out-format", "yolo"]) == 0
    )
    argv = ["-q", "convert", str(tmp_path / "y"), "--out", str(tmp_path / "m"), "--out-format", "yolo"]
    assert main([*argv, "--map-categories", "WBC=RBC"]) == 0
    merged = read_dataset(tmp_path / "m")
    assert [c.name for c in merged.categories] == ["Platelets", "RBC"]
    source = read_dataset(tmp_path / "y").box_counts()
    assert merged.box_counts() == {"Platelets": source["Platelets"], "RBC": source["RBC"] + source["WBC"]}
    assert sorted(p.relative_to(tmp_path / "m") for p in (tmp_path / "m" / "images").rglob("*.jpg")) == sorted(
        p.relative_to(tmp_path / "y") for p in (tmp_path / "y" / "images").rglob("*.jpg")
    )
