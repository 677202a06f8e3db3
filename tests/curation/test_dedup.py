import csv
import json

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.curation.dedup import duplicate_groups, duplicate_of
from edgeprune.datasets import read_dataset
from edgeprune.errors import EdgepruneError


def test_groups_are_led_by_their_first_member():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 32))
    X = np.vstack([base, base[1] + 1e-4, base[1] + 2e-4, base[4] * 3.0])  # rows 6, 7 copy row 1; row 8 is row 4
    groups = duplicate_groups(X, 0.999)
    assert [g.tolist() for g in groups] == [[1, 6, 7], [4, 8]]
    np.testing.assert_array_equal(duplicate_of(groups, 9), [-1, -1, -1, -1, -1, -1, 1, 1, 4])
    assert duplicate_groups(base, 0.999) == []


def test_grouping_does_not_chain_a_slowly_drifting_sequence():
    """Video frames drift: each is a near-copy of the next, but the first and the last are unrelated. Transitive
    grouping would make the whole sequence one group; every member here is within the threshold of its leader."""
    angles = np.linspace(0, np.pi / 2, 200)
    X = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # consecutive cosine ~0.99997, ends orthogonal
    groups = duplicate_groups(X, 0.99)
    assert len(groups) > 5
    for group in groups:
        assert (X[group[1:]] @ X[group[0]] >= 0.99 - 1e-6).all()
    leaders = [int(g[0]) for g in groups]
    assert (X[leaders] @ X[leaders].T - np.eye(len(leaders)) < 0.99).all()  # representatives are not copies


def test_blocks_give_the_same_groups_as_one_pass(monkeypatch):
    import edgeprune.curation.dedup as dedup

    X = np.random.default_rng(1).normal(size=(300, 4))
    whole = [g.tolist() for g in duplicate_groups(X, 0.95)]
    monkeypatch.setattr(dedup, "_BLOCK_ROWS", 7)
    assert [g.tolist() for g in duplicate_groups(X, 0.95)] == whole and whole
    with pytest.raises(EdgepruneError, match=r"dedup threshold must be in \(0, 1\]"):
        duplicate_groups(X, 1.5)


def test_faiss_index_and_numpy_tiles_give_the_same_groups(monkeypatch):
    import edgeprune.curation.dedup as dedup

    pytest.importorskip("faiss")
    X = np.random.default_rng(2).normal(size=(700, 6))
    numpy_groups = [g.tolist() for g in duplicate_groups(X, 0.9, use_faiss=False)]
    assert numpy_groups == [g.tolist() for g in duplicate_groups(X, 0.9, use_faiss=True)] and numpy_groups
    monkeypatch.setattr(dedup, "_TILE_ROWS", 5)  # representatives spread over many tiles
    monkeypatch.setattr(dedup, "_BLOCK_ROWS", 64)
    assert [g.tolist() for g in duplicate_groups(X, 0.9, use_faiss=False)] == numpy_groups


def test_curate_dedup_finds_the_planted_duplicates(tmp_path, digits_coco, pixel_backbone):
    dataset = read_dataset(digits_coco)
    planted = {img.file_name: img.extra["duplicate_of"] for img in dataset.images if "duplicate_of" in img.extra}
    names = {img.id: img.file_name for img in dataset.images}
    out = tmp_path / "out"
    code = main(
        [
            "-q",
            "curate",
            str(digits_coco),
            "--out",
            str(out),
            "--backbone",
            str(pixel_backbone),
            "--image-size",
            "64",
            "--cache-dir",
            str(tmp_path / "cache"),
            "-k",
            "3",
            "--keep",
            "1",
            "--dedup",
            "0.995",
        ]
    )
    assert code == 0
    with (out / "scores.csv").open() as fh:
        rows = {r["image"]: r for r in csv.DictReader(fh)}
    found = {name: row["duplicate_of"] for name, row in rows.items() if row["duplicate_of"]}
    assert found == {name: names[original] for name, original in planted.items()}
    assert all(rows[name]["kept"] == "0" and rows[name]["rank_in_cluster"] == "-1" for name in found)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["duplicates_dropped"] == 3 and summary["images_after"] == 40
    assert "Near-duplicates (3 groups, 3 images dropped)" in (out / "report.html").read_text()


def test_after_dedup_keep_is_a_share_of_the_input(tmp_path, digits_coco, pixel_backbone):
    out = tmp_path / "out"
    argv = ["-q", "curate", str(digits_coco), "--out", str(out), "--backbone", str(pixel_backbone)]
    argv += ["--image-size", "64", "--cache-dir", str(tmp_path / "cache"), "-k", "3", "--dedup", "0.995"]
    assert main([*argv, "--keep", "0.5"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["duplicates_dropped"] == 3 and summary["images_after"] == 22  # round(0.5 x 43), not of 40
    assert main([*argv, "--keep", "0.99", "--overwrite"]) == 0  # 43 asked, 40 left: dedup wins
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_after"] == 40
    assert any("dedup left 40 images, fewer than the 43" in note for note in summary["notes"])


def test_fill_budget_takes_near_duplicates_back_for_equal_counts(digits_coco, pixel_backbone, tmp_path):
    from edgeprune.curation import CurateOptions, choose, score_dataset
    from edgeprune.curation.types import compose_options

    dataset = read_dataset(digits_coco)
    options = compose_options(CurateOptions, dict(
        out=tmp_path / "unused", keep=0.99, clusters="3", backbone=str(pixel_backbone), image_size=64,
        cache_dir=tmp_path / "cache", dedup=0.995, progress=False, policy="hard",
    ))  # fmt: skip
    scored = score_dataset(dataset, options)
    kept, notes = choose(dataset, scored, options, fill_budget=True)
    assert kept.sum() == 43 and "3 near-duplicates kept back" in notes[0]
