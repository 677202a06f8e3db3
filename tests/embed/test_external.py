"""Bring-your-own embeddings: the file format, key matching, the errors, and curate driven by a file alone."""

import csv
import json

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.datasets import Box, Category, Dataset, ImageRecord, read_dataset
from edgeprune.embed.external import align, read_embeddings_file, write_embeddings_file
from edgeprune.errors import EdgepruneError


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_write_then_read_is_exact(tmp_path, suffix):
    keys = ["a.jpg", "b/c.png", "d.jpg#0"]
    vectors = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    path = write_embeddings_file(tmp_path / f"e{suffix}", keys, vectors)
    read_keys, read_vectors = read_embeddings_file(path)
    assert read_keys == keys and np.array_equal(read_vectors, vectors)


def _images(*names_and_ids):
    """A dataset of path-less images (as a TFRecord set is) named ``name`` with id ``id``."""
    images = [ImageRecord(i, n, 8, 8, boxes=[Box(1, (0, 0, 2, 2))] * 2) for n, i in names_and_ids]
    return Dataset(images, [Category(1, "c")], "tfrecord")


def test_align_orders_rows_and_accepts_ids(tmp_path):
    dataset = _images(("y.jpg", 1), ("x.jpg", 2), ("w.jpg", 7))
    vectors = np.arange(15, dtype=np.float32).reshape(5, 3)
    path = write_embeddings_file(tmp_path / "e.npz", ["x.jpg", "7", "y.jpg", "y.jpg#1", "other.jpg"], vectors)
    out = align(path, [(dataset, dataset.images)], boxes=[(0, 1)])
    assert np.array_equal(out, vectors[[2, 0, 1, 3]])  # other.jpg names nothing here: skipped


def _write_npz(path, **arrays):
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda p: write_embeddings_file(p, ["z"], np.ones((1, 3))),
            r"1 of 1 images or boxes have no row, e\.g\. 'a'; 1 keys name nothing here, e\.g\. 'z'\. keys may be",
        ),
        (lambda p: write_embeddings_file(p, ["a", "5"], np.ones((2, 3))), "keys 'a' and '5' both name a; give each"),
        (lambda p: _write_npz(p, keys=np.array(["a"]), embeddings=np.array([[np.nan, 1.0]])), "1 rows hold NaN"),
        (lambda p: _write_npz(p, keys=np.array(["a"]), embeddings=np.ones((2, 3))), r"one row per key; got \(2, 3\)"),
        (
            lambda p: _write_npz(p, keys=np.array(["a"]), vectors=np.ones((1, 3))),
            "needs arrays 'keys' and 'embeddings'",
        ),
        (lambda p: p.write_bytes(b"not a zip"), "not a readable .npz file"),
        (lambda p: _write_npz(p, keys=np.array(["a", "a"]), embeddings=np.ones((2, 3))), "keys appear more than once"),
    ],
)
def test_bad_files_are_one_line_errors_with_counts(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    dataset = _images(("a", 5))
    with pytest.raises(EdgepruneError, match=message) as error:
        align(path, [(dataset, dataset.images)])
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_wrong_suffix_and_missing_file(tmp_path):
    with pytest.raises(EdgepruneError, match=r"must be a \.npz or \.parquet file, got \.csv"):
        read_embeddings_file(tmp_path / "e.csv")
    with pytest.raises(EdgepruneError, match="does not exist"):
        read_embeddings_file(tmp_path / "e.npz")


def _planted(dataset, rng):
    """Three tight clusters of very unequal spread: images 0-9 very spread, the rest tight."""
    centres = np.eye(8)[:3] * 10
    cluster = np.arange(len(dataset)) % 3
    spread = np.where(np.arange(len(dataset)) < 9, 2.0, 0.05)
    return centres[cluster] + rng.normal(size=(len(dataset), 8)) * spread[:, None], cluster


def test_curate_from_a_file_keeps_the_planted_hard_images_and_never_loads_a_backbone(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    vectors, _ = _planted(dataset, np.random.default_rng(0))
    keys = [img.file_name for img in dataset.images]
    path = write_embeddings_file(tmp_path / "mine.parquet", keys, vectors)
    argv = ["-q", "curate", str(digits_coco), "--out", str(tmp_path / "out"), "--embeddings", str(path)]
    argv += ["-k", "3", "--keep", "0.2", "--exact", "--global", "--policy", "hard", "--backbone", "/does/not/exist"]
    assert main([*argv, "--save-embeddings", "--no-center"]) == 0
    with (tmp_path / "out" / "scores.csv").open() as fh:
        kept = {r["image"] for r in csv.DictReader(fh) if r["kept"] == "1"}
    assert kept == set(keys[:9])  # round(0.2 x 43) = 9: exactly the spread-out images
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["backbone"] == f"embeddings file {path}" and summary["embeddings_computed"] == 0
    saved_keys, saved = read_embeddings_file(tmp_path / "out" / "embeddings.npz")
    assert saved_keys == keys and np.array_equal(saved, vectors.astype(np.float32))


def test_curate_with_a_bad_file_is_exit_2_and_one_line(tmp_path, digits_coco, capsys):
    path = write_embeddings_file(tmp_path / "few.npz", ["nope.jpg"], np.ones((1, 4)))
    argv = ["-q", "curate", str(digits_coco), "--out", str(tmp_path / "out"), "--embeddings", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "43 of 43 images or boxes have no row" in err
    assert "the image id ('1')" in err and not (tmp_path / "out").exists()


def test_object_level_reads_box_keys(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    keys = [f"{img.file_name}#{j}" for img in dataset.images for j in range(len(img.boxes))]
    vectors = np.random.default_rng(1).normal(size=(len(keys), 6))
    path = write_embeddings_file(tmp_path / "boxes.npz", keys, vectors)
    argv = ["-q", "curate", str(digits_coco), "--out", str(tmp_path / "out"), "--embeddings", str(path)]
    assert main([*argv, "--level", "object", "-k", "2", "--save-embeddings"]) == 0
    saved_keys, saved = read_embeddings_file(tmp_path / "out" / "embeddings.npz")
    order = {k: i for i, k in enumerate(keys)}
    assert set(saved_keys) <= set(keys) and np.allclose(saved, vectors[[order[k] for k in saved_keys]])


@pytest.mark.parametrize(
    "form",
    [
        lambda img, root: f"JPEGImages/{img.file_name}",  # relative to the dataset root
        lambda img, root: img.file_name,  # VOC <filename>, also the bare name
        lambda img, root: f"./JPEGImages/{img.file_name}",
        lambda img, root: str(img.path.resolve()),  # absolute
        lambda img, root: str(img.id),  # the image id (the XML stem)
    ],
)
def test_voc_keys_in_every_form_a_script_writes(tmp_path, bccd, form):
    dataset = read_dataset(bccd, split="test")
    vectors = np.random.default_rng(2).normal(size=(len(dataset), 4)).astype(np.float32)
    path = write_embeddings_file(tmp_path / "e.npz", [form(img, bccd) for img in dataset.images], vectors)
    assert np.array_equal(align(path, [(dataset, dataset.images)]), vectors)


def test_embeddings_of_the_whole_set_serve_a_split_and_leaks(tmp_path, bccd, capsys):
    everything = read_dataset(bccd)
    keys = [f"JPEGImages/{img.file_name}" for img in everything.images]
    path = write_embeddings_file(tmp_path / "all.npz", keys, np.random.default_rng(3).normal(size=(len(keys), 8)))
    out = tmp_path / "out"
    argv = ["curate", str(bccd), "--split", "test", "--out", str(out), "--embeddings", str(path), "-k", "3"]
    assert main(argv) == 0
    test = read_dataset(bccd, split="test")
    assert json.loads((out / "summary.json").read_text())["images_before"] == len(test)
    assert f"{len(everything) - len(test)} keys name no image or box of the data being read" in capsys.readouterr().err
    leaks = ["leaks", str(bccd), "--splits", "trainval,test", "--out", str(tmp_path / "leaks"), "--embeddings"]
    assert main(["-q", *leaks, str(path)]) == 0


def test_ambiguous_and_mixed_keys_are_errors_with_examples(tmp_path):
    a = _images(("x/0.jpg", 1), ("y/0.jpg", 2))
    path = write_embeddings_file(tmp_path / "e.npz", ["0.jpg", "y/0.jpg"], np.ones((2, 3)))
    with pytest.raises(EdgepruneError, match=r"key '0\.jpg' could name more than one image; use the path relative"):
        align(path, [(a, a.images)])
    path = write_embeddings_file(tmp_path / "m.npz", ["x/0.jpg", "1", "y/0.jpg"], np.ones((3, 3)))
    with pytest.raises(EdgepruneError, match=r"keys 'x/0\.jpg' and '1' both name x/0\.jpg"):
        align(path, [(a, a.images)])
