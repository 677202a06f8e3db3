"""No command writes over what it reads: every output that is, lies inside or contains an input is refused before
any work, with a one-line error naming both paths, and every input file stays byte for byte."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from edgeprune.cli import main
from edgeprune.datasets import read_dataset
from edgeprune.errors import EdgepruneError
from edgeprune.input_guard import check_apart, dataset_inputs


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links followed) and its content digest."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def data(tmp_path, digits_coco) -> Path:
    """A private copy of the generated COCO set: ``data/annotations.json`` and ``data/images/``."""
    return Path(shutil.copytree(digits_coco, tmp_path / "data"))


def refused(argv: list[str], capsys, *paths: Path) -> str:
    """Run the command; assert exit 2 and a one-line error that names every path given."""
    assert main(["-q", *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for path in paths:
        assert str(path) in err, err
    return err


@pytest.mark.parametrize(
    "dataset, out, extra",
    [
        (".", ".", ["--overwrite"]),  # the table: the dataset folder itself
        ("annotations.json", "images", ["--overwrite"]),  # the images folder of a COCO file
        (".", "images/pruned", []),  # inside the images folder
        ("images/../annotations.json", "..", ["--overwrite"]),  # a folder that contains the dataset
    ],
)
def test_curate_refuses_its_input(data, tiny_backbone, capsys, dataset, out, extra):
    before = snapshot(data)
    out_path = (data / out).resolve()
    err = refused(
        ["curate", data / dataset, "--out", out_path, "--backbone", tiny_backbone, "--image-size", "32", *extra],
        capsys,
        out_path,
    )
    assert "never writes over what it reads" in err
    assert snapshot(data) == before


def test_convert_refuses_its_input(data, capsys):
    before = snapshot(data)
    refused(["convert", data, "--out", data, "--out-format", "yolo", "--overwrite"], capsys, data)
    assert snapshot(data) == before


def test_cache_dir_and_embeddings_may_not_be_the_output(data, tmp_path, tiny_backbone, capsys):
    cache = tmp_path / "out" / "cache"
    cache.mkdir(parents=True)
    (cache / "keep.txt").write_text("cached")
    refused(
        ["curate", data, "--out", tmp_path / "out", "--overwrite", "--backbone", tiny_backbone, "--cache-dir", cache],
        capsys,
        tmp_path / "out",
        cache,
    )
    assert (cache / "keep.txt").read_text() == "cached"
    vectors = tmp_path / "vectors.npz"
    vectors.write_bytes(b"x")
    refused(["curate", data, "--out", vectors, "--overwrite", "--embeddings", vectors], capsys, vectors)
    assert vectors.read_bytes() == b"x"


def test_symlinked_images_into_the_output_are_refused(data, tmp_path, tiny_backbone, capsys):
    """A dataset whose images are links into --out: replacing --out would delete them (resolved before comparing)."""
    links = tmp_path / "links"
    shutil.copytree(data, links, symlinks=True, ignore=shutil.ignore_patterns("images"))
    (links / "images").mkdir()
    for image in (data / "images").iterdir():
        (links / "images" / image.name).symlink_to(image)
    before = snapshot(data)
    refused(
        ["curate", links, "--out", data, "--overwrite", "--backbone", tiny_backbone, "--image-mode", "symlink"],
        capsys,
        data,
    )
    assert snapshot(data) == before and snapshot(links) == before


def test_a_symlink_to_the_input_is_the_input(data, tmp_path, capsys):
    alias = tmp_path / "alias"
    alias.symlink_to(data)
    before = snapshot(data)
    refused(["convert", data, "--out", alias, "--out-format", "voc", "--overwrite"], capsys, alias)
    assert snapshot(data) == before


def test_leaks_write_clean_and_out_refuse_the_inputs(data, digits_coco_val, tmp_path, tiny_backbone, capsys):
    other = Path(shutil.copytree(digits_coco_val, tmp_path / "other"))
    before, before_other = snapshot(data), snapshot(other)
    common = ["--backbone", tiny_backbone, "--image-size", "32", "--cache-dir", tmp_path / "cache", "--overwrite"]
    refused(["leaks", data, "--against", other, "--out", tmp_path / "r", "--write-clean", data, *common], capsys, data)
    refused(["leaks", data, "--against", other, "--out", other, *common], capsys, other)
    assert snapshot(data) == before and snapshot(other) == before_other
    assert not (tmp_path / "r").exists()


def test_train_export_refuses_train_and_val(data, digits_coco_val, tmp_path, capsys):
    val = Path(shutil.copytree(digits_coco_val, tmp_path / "val"))
    before, before_val = snapshot(data), snapshot(val)
    refused(["train-export", data, "--val", val, "--out", data / "model", "--steps", "1"], capsys, data / "model")
    refused(["train-export", data, "--val", val, "--out", val / "images" / "m", "--steps", "1"], capsys, val)
    earlier = tmp_path / "earlier"  # an earlier train-export output to fine-tune: never written into
    earlier.mkdir()
    refused(["train-export", data, "--val", val, "--out", earlier / "m", "--init-detector", earlier], capsys, earlier)
    assert snapshot(data) == before and snapshot(val) == before_val
    assert not list(tmp_path.rglob("*.partial")) and list(earlier.iterdir()) == []


def test_pretrain_refuses_its_dataset(data, capsys):
    before = snapshot(data)
    refused(["pretrain", data, "--out", data / "images", "--overwrite", "--steps", "1"], capsys, data / "images")
    assert snapshot(data) == before


def test_scaling_refuses_its_datasets_and_cache(data, digits_coco_val, tmp_path, capsys):
    before = snapshot(data)
    refused(["scaling", data, "--val", digits_coco_val, "--out", data / "exp", "--steps", "1"], capsys, data / "exp")
    refused(
        ["scaling", data, "--val", digits_coco_val, "--out", tmp_path / "exp", "--cache-dir", tmp_path / "exp" / "c"],
        capsys,
        tmp_path / "exp",
    )
    refused(
        ["scaling", data, "--val", digits_coco_val, "--out", tmp_path / "exp", "--init-detector", tmp_path / "exp"],
        capsys,
        tmp_path / "exp",
    )
    assert snapshot(data) == before and not (tmp_path / "exp").exists()


def test_label_loop_refuses_its_datasets_and_the_scaling_run_it_starts_from(data, digits_coco_val, tmp_path, capsys):
    before = snapshot(data)
    refused(
        ["label-loop", data, "--val", digits_coco_val, "--out", data / "loop", "--steps", "1"], capsys, data / "loop"
    )
    scaling = tmp_path / "scaling"
    scaling.mkdir()
    refused(
        ["label-loop", data, "--val", digits_coco_val, "--out", scaling / "loop", "--start-from", scaling],
        capsys,
        scaling / "loop",
    )
    assert snapshot(data) == before and not (scaling / "loop").exists()
    refused(["label-loop", data, "--val", digits_coco_val, "--out", tmp_path / "l", "--start-from", scaling], capsys)


def test_outputs_beside_the_input_are_fine(data, tmp_path):
    dataset = read_dataset(data)
    check_apart(tmp_path / "pruned", dataset_inputs(dataset))
    check_apart(data.parent / "data-pruned", dataset_inputs(dataset))  # a shared name prefix is not containment


def test_dataset_inputs_name_every_source(tmp_path, digits_coco):
    from edgeprune.datasets import write_dataset

    dataset = read_dataset(digits_coco)
    write_dataset(dataset, tmp_path / "rec", format="tfrecord")
    write_dataset(dataset, tmp_path / "yolo", format="yolo")
    for root, inside in ((tmp_path / "rec", None), (tmp_path / "yolo", "labels/train")):
        read = read_dataset(root)
        paths = {os.path.realpath(p) for _, p in dataset_inputs(read)}
        if inside:
            assert os.path.realpath(root / inside) in paths
        for target in [root, *(p for p in root.rglob("*") if p.is_file() and p.suffix != ".pbtxt")]:
            with pytest.raises(EdgepruneError):
                check_apart(target, dataset_inputs(read))
