import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.datasets import read_dataset
from tests.conftest import assert_same_dataset


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def run(tmp_path, tiny_backbone):
    """Call ``main`` with the tiny backbone and a private cache; returns (exit code, out dir)."""

    def _run(*args, out="out", backbone=True):
        argv = ["-q", "curate", *map(str, args), "--out", str(tmp_path / out), "--cache-dir", str(tmp_path / "cache")]
        if backbone:
            argv += ["--backbone", str(tiny_backbone), "--image-size", "32"]
        return main(argv), tmp_path / out

    return _run


def test_curate_coco_writes_everything(run, digits_coco, capsys):
    before = tree_digest(digits_coco)
    code, out = run(
        digits_coco, "--keep", "0.5", "-k", "4", "--save-embeddings", "--export-folders", "all", "--write-dropped"
    )
    assert code == 0
    assert tree_digest(digits_coco) == before
    printed = capsys.readouterr().out
    assert "report:" in printed and str(out / "pruned") in printed

    from pycocotools.coco import COCO

    pruned = COCO(str(out / "pruned" / "annotations.json"))
    dropped = read_dataset(out / "dropped")
    assert len(pruned.imgs) + len(dropped) == 43
    assert 20 <= len(pruned.imgs) <= 26
    with (out / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 43 and sum(int(r["kept"]) for r in rows) == len(pruned.imgs)
    with np.load(out / "embeddings.npz") as saved:
        assert saved["embeddings"].shape == (43, 16) and len(set(saved["keys"])) == 43
    folders = {p.name for p in (out / "folders").iterdir()}
    assert {f"cluster_{i}" for i in range(4)} <= folders and any(f.endswith("_hard") for f in folders)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 3 and html.count('class="kept"') == len(pruned.imgs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_after"] == len(pruned.imgs) and summary["embeddings_computed"] == 43


def test_second_run_uses_the_cache_and_is_reproducible(run, digits_coco):
    _, first = run(digits_coco, "-k", "3", "--policy", "random", "--seed", "5", out="a")
    _, second = run(digits_coco, "-k", "3", "--policy", "random", "--seed", "5", out="b")
    assert json.loads((second / "summary.json").read_text())["embeddings_cached"] == 43
    assert (first / "scores.csv").read_text() == (second / "scores.csv").read_text()


def test_keep_everything_round_trips(run, digits_coco):
    code, out = run(digits_coco, "--keep", "1", "-k", "2")
    assert code == 0
    assert_same_dataset(read_dataset(digits_coco), read_dataset(out / "pruned"))


def test_bccd_voc_to_tfrecord_and_global_easy(run, bccd):
    code, out = run(bccd, "--prune", "0.75", "--global", "--policy", "easy", "-k", "5", "--out-format", "tfrecord")
    assert code == 0
    pruned = read_dataset(out / "pruned")
    assert pruned.format == "tfrecord" and len(pruned) == 91
    assert [c.name for c in pruned.categories] == ["Platelets", "RBC", "WBC"]
    with (out / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    kept = [float(r["distance"]) for r in rows if r["kept"] == "1"]
    dropped = [float(r["distance"]) for r in rows if r["kept"] == "0"]
    assert max(kept) <= min(dropped)


def test_tfrecord_and_folder_inputs_keep_their_format(run, tmp_path, digits_coco):
    from edgeprune.datasets import write_dataset

    write_dataset(read_dataset(digits_coco), tmp_path / "records", format="tfrecord")
    code, out = run(tmp_path / "records", "-k", "3", out="rec_out")
    assert code == 0 and read_dataset(out / "pruned").format == "tfrecord"
    code, out = run(digits_coco / "images", "-k", "3", out="folder_out")
    assert code == 0 and len(list((out / "pruned").iterdir())) == len(read_dataset(out / "pruned"))


def test_invalid_boxes_warn_or_drop(run, tmp_path, digits_coco, capsys):
    data = json.loads((digits_coco / "annotations.json").read_text())
    data["annotations"][0]["bbox"] = [10, 10, 0, 5]
    data["annotations"][1]["bbox"] = [50, 50, 40, 40]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    args = [tmp_path / "bad.json", "--images", digits_coco / "images", "--keep", "1", "-k", "2"]
    code, out = run(*args, out="kept")
    assert code == 0 and read_dataset(out / "pruned").num_boxes() == len(data["annotations"])
    code, out = run(*args, "--drop-invalid-boxes", out="dropped")
    assert code == 0 and read_dataset(out / "pruned").num_boxes() == len(data["annotations"]) - 2


def _corrupt_copy(tmp_path, digits_coco, damage):
    root = tmp_path / "data"
    shutil.copytree(digits_coco, root)
    victim = root / "images" / "scene_00007.jpg"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 4] if damage == "truncated" else b"GIF89a garbage")
    return root


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such file or directory"),
        ("unknown", "unknown dataset format"),
        ("json", "malformed JSON at line 1"),
        ("missing_image", "points at missing file"),
        ("truncated", "scene_00007.jpg: (corrupt or truncated|not a readable) image"),
        ("garbage", "scene_00007.jpg: not a readable image \\(UnidentifiedImageError"),
        ("tfrecord", "corrupt TFRecord"),
        ("empty", "holds no images"),
        ("clusters", "--clusters 99 is larger than the number of samples \\(43\\)"),
        ("backbone", "cannot load backbone with tensorflow_hub"),
        ("prune", "--prune must be in \\[0, 1\\)"),
        ("no_boxes", "no usable boxes to embed at object level"),
        ("min_per_category", "--min-per-category -1 must not be negative"),
    ],
)
def test_bad_input_gives_one_line_and_leaves_nothing(run, tmp_path, digits_coco, capsys, case, message):
    args = [digits_coco]
    backbone = True
    if case == "missing":
        args = [tmp_path / "nope"]
    elif case == "unknown":
        (tmp_path / "u").mkdir()
        (tmp_path / "u" / "readme.txt").write_text("?")
        args = [tmp_path / "u"]
    elif case == "json":
        (tmp_path / "a.json").write_text("{oops")
        args = [tmp_path / "a.json"]
    elif case == "missing_image":
        data = json.loads((digits_coco / "annotations.json").read_text())
        data["images"][3]["file_name"] = "gone.jpg"
        (tmp_path / "a.json").write_text(json.dumps(data))
        args = [tmp_path / "a.json", "--images", digits_coco / "images"]
    elif case in ("truncated", "garbage"):
        args = [_corrupt_copy(tmp_path, digits_coco, case)]
    elif case == "tfrecord":
        (tmp_path / "x.record").write_bytes(b"\x00" * 40)
        args = [tmp_path / "x.record"]
    elif case == "empty":
        (tmp_path / "e.json").write_text('{"images": [], "annotations": [], "categories": []}')
        args = [tmp_path / "e.json"]
    elif case == "clusters":
        args += ["--clusters", "99"]
    elif case == "backbone":
        (tmp_path / "not_a_model").mkdir()
        args += ["--backbone", tmp_path / "not_a_model"]
        backbone = False
    elif case == "prune":
        args += ["--prune", "1.0"]
    elif case == "no_boxes":
        data = json.loads((digits_coco / "annotations.json").read_text())
        (tmp_path / "a.json").write_text(json.dumps({**data, "annotations": []}))
        args = [tmp_path / "a.json", "--images", digits_coco / "images", "--level", "object"]
    elif case == "min_per_category":
        args += ["--min-per-category", "-1"]
    code, out = run(*args, backbone=backbone)
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("edgeprune curate: error:") and "Traceback" not in err
    assert re.search(message, last), last
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


@pytest.mark.parametrize("keep", ["0", "1.5", "abc"])
def test_keep_outside_range_is_a_usage_error(run, digits_coco, capsys, keep):
    code, out = run(digits_coco, "--keep", keep)
    assert code == 2 and "--keep" in capsys.readouterr().err and not out.exists()


def test_refuses_to_overwrite(run, digits_coco, capsys):
    assert run(digits_coco, "-k", "2")[0] == 0
    code, out = run(digits_coco, "-k", "2")
    assert code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert run(digits_coco, "-k", "2", "--overwrite")[0] == 0


def test_python_dash_m_and_help(capsys):
    assert main(["--help"]) == 0
    assert "curate" in capsys.readouterr().out


def _kept_boxes(out: Path) -> dict[str, int]:
    return read_dataset(out / "pruned").box_counts()


def test_object_level_on_bccd_keeps_min_per_category_and_reports_crops(run, bccd, capsys):
    code, plain = run(bccd, "--split", "train", "--level", "object", "--keep", "0.1", "-k", "3", out="plain")
    assert code == 0
    code, out = run(
        bccd,
        "--split",
        "train",
        "--level",
        "object",
        "--keep",
        "0.1",
        "-k",
        "3",
        "--min-per-category",
        "25",
        "--aggregate",
        "max",
    )
    assert code == 0
    before = read_dataset(bccd, split="train").box_counts()
    kept = _kept_boxes(out)
    assert all(kept.get(name, 0) >= min(25, total) for name, total in before.items()), kept
    assert min(_kept_boxes(plain).values()) < 25  # without the floor a rare class falls short at 10%
    assert len(read_dataset(out / "pruned")) == len(read_dataset(plain / "pruned"))  # same image budget
    with (out / "objects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= sum(before.values()) - 2 and {r["category"] for r in rows} == set(before)
    assert {r["cluster"].split("/")[0] for r in rows} == set(before)  # clustered per category
    html = (out / "report.html").read_text()
    assert html.count("Object cluster") == 9 and "min-per-category 25" in html
    assert "swapped in" in capsys.readouterr().out


def test_exact_counts_and_the_note_when_the_per_cluster_rule_over_keeps(run, digits_coco):
    _, loose = run(digits_coco, "--keep", "0.1", "-k", "12", out="loose")
    summary = json.loads((loose / "summary.json").read_text())
    assert summary["images_after"] >= 12  # ceil(0.1 x n) is at least one per cluster
    assert any("asked: the per-cluster rule keeps ceil" in note for note in summary["notes"])
    _, exact = run(digits_coco, "--keep", "0.1", "-k", "12", "--exact", out="exact")
    summary = json.loads((exact / "summary.json").read_text())
    assert summary["images_after"] == 4 and not any("per-cluster rule" in n for n in summary["notes"])


@pytest.mark.parametrize("policy", ["coreset", "balanced"])
def test_coreset_and_balanced_keep_round_keep_n(run, digits_coco, policy):
    code, out = run(digits_coco, "--keep", "0.3", "-k", "3", "--policy", policy, out=policy)
    assert code == 0
    pruned = read_dataset(out / "pruned")
    assert len(pruned) == 13  # round(0.3 x 43)
    if policy == "balanced":  # ten digit classes: the kept boxes spread over all of them
        assert min(pruned.box_counts().values()) >= 1


@pytest.mark.parametrize(
    "command, module",
    [
        ("curate", "curation"),
        ("scaling", "scaling.run"),
        ("label-loop", "scaling.labeling"),
        ("split", "splits"),
        ("select", "next_batch"),
    ],
)
def test_every_option_field_is_filled_from_the_command_line(command, module):
    """The CLI builds its options object from argument names: a field without an argument would silently keep its
    default, so every field must have one (or be one the CLI derives)."""
    import importlib

    from edgeprune.cli import build_parser

    options_class = {
        "curate": "CurateOptions",
        "scaling": "ScalingOptions",
        "label-loop": "LabelingOptions",
        "split": "SplitOptions",
        "select": "SelectOptions",
    }[command]
    from edgeprune.curation.types import option_fields

    options = getattr(importlib.import_module(f"edgeprune.{module}"), options_class)
    fields = set(option_fields(options))  # the flat names: a part's fields, not the part
    positional = {
        "curate": ["data"],
        "scaling": ["train", "--val", "v"],
        "label-loop": ["train", "--val", "v"],
        "split": ["data"],
        "select": ["pool", "--budget", "3"],
    }[command]
    args = build_parser().parse_args([command, *positional, "--out", "o"])
    derived = {
        "curate": {"keep", "progress"},
        "scaling": {"fractions", "policies", "levels", "progress"},
        "label-loop": {"strategies", "progress"},
        "split": {"progress"},
        "select": {"progress"},
    }[command]
    assert fields - derived <= set(vars(args)), sorted(fields - derived - set(vars(args)))


def test_report_has_an_embedding_map_unless_turned_off(run, digits_coco):
    code, out = run(digits_coco, "-k", "3", out="with_map")
    html = (out / "report.html").read_text()
    assert code == 0 and "<h2>Embedding map</h2>" in html and 'alt="embedding map"' in html
    code, out = run(digits_coco, "-k", "3", "--map-points", "0", out="no_map")
    assert code == 0 and "Embedding map" not in (out / "report.html").read_text()


def test_embedding_map_subsamples_large_sets_and_links_duplicates():
    from edgeprune.report.embedding_map import embedding_map_png, project

    X = np.random.default_rng(0).normal(size=(400, 8))
    indices, xy = project(X, max_points=100)
    assert len(indices) == 100 and xy.shape == (100, 2) and (np.diff(indices) > 0).all()
    png = embedding_map_png(X, np.arange(400) % 5, np.arange(400) % 2 == 0, links=[(0, 1)], max_points=100)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_api_mirrors_the_command(tmp_path, digits_coco, tiny_backbone):
    import edgeprune

    result = edgeprune.curate(
        str(digits_coco), out=str(tmp_path / "api"), keep=0.3, exact=True, clusters="3", backbone=str(tiny_backbone),
        image_size=32, cache_dir=str(tmp_path / "cache"), progress=False, map_points=0,
    )  # fmt: skip
    assert result.images_after == 13 and (result.out / "report.html").is_file()
    assert len(read_dataset(result.out / "pruned")) == 13
    with pytest.raises(TypeError, match="unknown option.*kep"):
        edgeprune.curate(digits_coco, out=tmp_path / "x", kep=0.3)
    from edgeprune.errors import EdgepruneError

    with pytest.raises(EdgepruneError, match="keep fraction must be in"):
        edgeprune.curate(digits_coco, out=tmp_path / "y", keep=2.0)
