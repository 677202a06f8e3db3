"""``edgeprune leaks`` on generated splits with planted copies: found exactly, with no false positives among
distinct scenes; the files, the gate, the clean split, the API, and bad input."""

import csv
import json
import shutil

import numpy as np
import pytest

import edgeprune
from edgeprune.cli import main
from edgeprune.curation.types import EmbeddingSettings
from edgeprune.datasets import read_dataset, write_dataset
from edgeprune.errors import EdgepruneError
from edgeprune.leaks import LeakOptions, find_leaks


@pytest.fixture(scope="module")
def split_voc(tmp_path_factory, digits_coco):
    """A VOC dataset with train and val splits: val holds the 3 planted near-copies of train scenes, one exact byte
    copy of a train image under a new name, and 10 distinct scenes. Returns (root, expected {val id: train id})."""
    root = tmp_path_factory.mktemp("splits") / "voc"
    coco = read_dataset(digits_coco)
    write_dataset(coco, root, format="voc")
    stem = {img.id: img.file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0] for img in coco.images}
    planted = {stem[img.id]: stem[img.extra["duplicate_of"]] for img in coco.images if "duplicate_of" in img.extra}
    used = set(planted) | set(planted.values())
    distinct = [s for s in stem.values() if s not in used][:10]
    source = sorted(set(stem.values()) - used - set(distinct))[0]
    shutil.copyfile(root / "JPEGImages" / f"{source}.jpg", root / "JPEGImages" / "copy_of_train.jpg")
    xml = (root / "Annotations" / f"{source}.xml").read_text().replace(f"{source}.jpg", "copy_of_train.jpg")
    (root / "Annotations" / "copy_of_train.xml").write_text(xml)
    val = sorted(planted) + distinct + ["copy_of_train"]
    train = sorted(set(stem.values()) - set(val))
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(train) + "\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(val) + "\n")
    return root, {**planted, "copy_of_train": source}


def _argv(root, out, backbone, cache, *extra):
    return ["-q", "leaks", str(root), "--out", str(out), "--backbone", str(backbone), "--image-size", "64"] + [
        "--cache-dir", str(cache), "--threshold", "0.995", *extra
    ]  # fmt: skip


def test_planted_copies_are_found_exactly(split_voc, pixel_backbone, tmp_path, capsys):
    root, expected = split_voc
    assert main(_argv(root, tmp_path / "out", pixel_backbone, tmp_path / "c", "--splits", "train,val")) == 0
    with (tmp_path / "out" / "leaks.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    found = {r["image"].rsplit(".", 1)[0]: r["nearest"].rsplit(".", 1)[0] for r in rows}
    assert found == expected  # the 10 distinct scenes are not flagged
    assert all(r["split"] == "val" and r["nearest_split"] == "train" for r in rows)
    exact = [r for r in rows if r["exact"] == "1"]
    assert [r["image"] for r in exact] == ["copy_of_train.jpg"] and float(exact[0]["similarity"]) == 1.0
    assert rows[0]["exact"] == "1"  # worst first
    printed = capsys.readouterr().out
    assert "4 of 14 `val` images have a near-copy in `train` (1 exact copies)" in printed
    html = (tmp_path / "out" / "report.html").read_text()
    assert "data:image/png;base64" in html and html.count('class="pair"') == 4
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["per_split"]["val"]["flagged"] == 4 and summary["checked"] == 14


def test_fail_on_leaks_and_write_clean(split_voc, pixel_backbone, tmp_path):
    root, expected = split_voc
    clean = tmp_path / "clean"
    argv = _argv(root, tmp_path / "out", pixel_backbone, tmp_path / "c", "--splits", "train,val")
    assert main([*argv, "--fail-on-leaks", "--write-clean", str(clean)]) == 1
    kept = {img.file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0] for img in read_dataset(clean).images}
    assert len(kept) == 10 and not kept & set(expected)


def test_against_another_dataset_and_the_python_api(split_voc, pixel_backbone, tmp_path):
    root, expected = split_voc
    result = edgeprune.find_leaks(
        root, out=tmp_path / "api", split="val", against=root, against_split="train", backbone=str(pixel_backbone),
        image_size=64, cache_dir=tmp_path / "c", threshold=0.995, progress=False,
    )  # fmt: skip
    assert result.flagged == 4 and result.checked == 14
    assert {leak.nearest.rsplit(".", 1)[0] for leak in result.leaks} == set(expected.values())
    with pytest.raises(TypeError, match="unknown option.*splitz"):
        edgeprune.find_leaks(root, out=tmp_path / "x", splitz=["train"])


def test_embeddings_from_a_file_never_load_a_backbone(split_voc, tmp_path):
    from edgeprune.embed.external import write_embeddings_file

    root, expected = split_voc
    names = [img.file_name for split in ("train", "val") for img in read_dataset(root, split=split).images]
    vectors = np.random.default_rng(0).normal(size=(len(names), 32))
    index = {name.rsplit("/", 1)[-1].rsplit(".", 1)[0]: i for i, name in enumerate(names)}
    copy = sorted(expected)[0]
    vectors[index[copy]] = vectors[index[expected[copy]]]  # one planted copy in embedding space
    path = write_embeddings_file(tmp_path / "e.npz", names, vectors)
    options = LeakOptions(
        out=tmp_path / "out", splits=["train", "val"], embedding=EmbeddingSettings(embeddings=path), threshold=0.999
    )
    result = find_leaks(root, options)
    assert result.backbone.startswith("embeddings file")
    flagged = {leak.image.rsplit(".", 1)[0]: leak.exact for leak in result.leaks}
    assert flagged == {copy: False, "copy_of_train": True}  # random vectors elsewhere; bytes still checked


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--splits", "train"], "give at least two splits"),
        (["--splits", "train,nope"], "no split 'nope'"),
        (["--splits", "train,train"], "repeats a split"),
        (["--split", "val"], "--split val goes with --against OTHER_DATASET"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(split_voc, pixel_backbone, tmp_path, capsys, extra, message):
    root, _ = split_voc
    assert main(_argv(root, tmp_path / "out", pixel_backbone, tmp_path / "c", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not (tmp_path / "out").exists()


def test_one_split_is_refused():
    with pytest.raises(EdgepruneError, match="at least two splits"):
        find_leaks("x", LeakOptions(out="y", splits=["a"]))


def test_the_bounded_search_flags_the_same_images(split_voc, pixel_backbone, tmp_path, monkeypatch):
    """Forced onto the bounded search (as at 100k x 100k), leaks finds the same planted copies and says how."""
    from edgeprune import threshold_search

    monkeypatch.setattr(threshold_search, "EXACT_FLOP_LIMIT", 0)
    root, expected = split_voc
    assert main(_argv(root, tmp_path / "out", pixel_backbone, tmp_path / "c", "--splits", "train,val")) == 0
    with (tmp_path / "out" / "leaks.csv").open() as fh:
        found = {r["image"].rsplit(".", 1)[0]: r["nearest"].rsplit(".", 1)[0] for r in csv.DictReader(fh)}
    assert found == expected
    search = json.loads((tmp_path / "out" / "summary.json").read_text())["per_split"]["val"]["search"]
    assert search["method"] == "bounded" and search["pairs_scored_in_full"] >= len(expected) - 1
