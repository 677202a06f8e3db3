"""``edgeprune select``: greedy picks by the product of objectives, never a near-copy of the labelled set or of
another pick, deterministic, and bad input as one line."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.curation.diversity import greedy_pick
from edgeprune.datasets import read_dataset


def _unit(rows):
    rows = np.asarray(rows, np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_greedy_is_k_center_from_the_labelled_set_and_a_fixed_objective_reorders_it():
    angles = np.array([0.0, 0.1, 1.0, 2.0, 3.0])
    pool = _unit(np.c_[np.cos(angles), np.sin(angles)])
    labeled = _unit([[1.0, 0.0]])  # at angle 0: pool[0] is a copy of it
    picked, shown, near = greedy_pick(pool, labeled, 3, {"diversity": 1.0}, {}, threshold=0.999)
    assert near.tolist() == [True, False, False, False, False]
    assert picked.tolist() == [4, 2, 3]  # farthest from the labelled set, then farthest from it and the picks
    assert shown["diversity"][4] == pytest.approx(1.0)
    prefer_near = {"prototype": np.array([1.0, 1.0, 1.0, 1.0, 1e-3])}
    picked, _, _ = greedy_pick(pool, labeled, 2, {"diversity": 1.0, "prototype": 2.0}, prefer_near, threshold=0.999)
    assert picked[0] == 3  # angle 2.0: far enough, and the prototype objective vetoes angle 3.0


def _select(tmp_path, pool, backbone, *extra, out="out"):
    argv = ["-q", "select", str(pool), "--out", str(tmp_path / out), "--backbone", str(backbone)]
    argv += ["--image-size", "64", "--cache-dir", str(tmp_path / "cache"), "--threshold", "0.995", *extra]
    return main(argv), tmp_path / out


def _rows(out):
    with (out / "selection.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def labeled_folder(tmp_path, digits_coco):
    """An image folder holding copies of five pool images: the set already labelled."""
    folder = tmp_path / "labeled"
    folder.mkdir()
    for name in [f"scene_0000{i}.jpg" for i in range(5)]:
        shutil.copy(digits_coco / "images" / name, folder / name)
    return folder


def test_picks_skip_the_labelled_set_and_near_copies(tmp_path, digits_coco, pixel_backbone, labeled_folder):
    dataset = read_dataset(digits_coco)
    planted = {img.file_name: img.extra["duplicate_of"] for img in dataset.images if "duplicate_of" in img.extra}
    names = {img.id: img.file_name for img in dataset.images}
    code, out = _select(tmp_path, digits_coco, pixel_backbone, "--budget", "30", "--labeled", str(labeled_folder))
    assert code == 0
    rows = {row["image"]: row for row in _rows(out)}
    picked = {name for name, row in rows.items() if int(row["pick_order"]) >= 0}
    assert len(picked) == 30 and sorted(p.name for p in (out / "to_label").iterdir()) == sorted(picked)
    assert not picked & {f"scene_0000{i}.jpg" for i in range(5)}  # copies of the labelled set
    assert all(rows[f"scene_0000{i}.jpg"]["near_copy_of_labeled"] == "1" for i in range(5))
    for copy, original in planted.items():
        assert not {copy, names[original]} <= picked  # never a pick and its near-copy
    orders = sorted(
        (int(row["pick_order"]), float(row["diversity"])) for row in rows.values() if row["image"] in picked
    )
    diversity = [d for _, d in orders]
    assert diversity == sorted(diversity, reverse=True)  # k-center greedy: each pick is the farthest left
    html = (out / "report.html").read_text()
    assert "Embedding map" in html and "diversity histogram" in html and "#29" in html
    code, again = _select(
        tmp_path, digits_coco, pixel_backbone, "--budget", "30", "--labeled", str(labeled_folder), out="again"
    )
    assert code == 0 and _rows(again) == _rows(out)


def test_prototype_objective_and_python_api(tmp_path, digits_coco, pixel_backbone):
    import edgeprune

    result = edgeprune.select(
        digits_coco, out=tmp_path / "api", budget=8, backbone=str(pixel_backbone), image_size=64,
        cache_dir=str(tmp_path / "cache"), prototype="easy", prototype_strength=2.0, clusters=3, progress=False,
    )  # fmt: skip
    assert result.picked == 8 and result.objectives == {"diversity": 1.0, "prototype": 2.0}
    rows = _rows(tmp_path / "api")
    assert all(0.0 <= float(row["prototype"]) <= 1.0 for row in rows)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--budget", "100"], "--budget 100 is larger than the pool (43 images)"),
        (["--budget", "5", "--diversity", "0"], "every objective is off"),
        (["--budget", "5", "--labeled", "POOL"], "every pool image is a near-copy"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, digits_coco, pixel_backbone, capsys, extra, message):
    code, out = _select(tmp_path, digits_coco, pixel_backbone, *[str(digits_coco) if e == "POOL" else e for e in extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_model_uncertainty_and_pre_annotations_for_their_consumers(tmp_path, digits_coco, pixel_backbone, trained):
    from pycocotools.coco import COCO

    code, out = _select(
        tmp_path, digits_coco, pixel_backbone, "--budget", "6", "--model", str(trained), "--min-score", "0.01"
    )
    assert code == 0
    rows = _rows(out)
    assert all(0.0 <= float(row["uncertainty"]) <= 1.0 for row in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objectives"] == {"diversity": 1.0, "uncertainty": 1.0}
    pre = out / "pre_annotations"
    coco = COCO(str(pre / "coco.json"))  # pycocotools reads the annotations and loadRes the predictions
    results = json.loads((pre / "coco_results.json").read_text())
    assert results and len(coco.loadRes(str(pre / "coco_results.json")).getAnnIds()) == len(results)
    assert len(coco.getImgIds()) == 6 and all(0.01 <= r["score"] <= 1 for r in results)
    picked = sorted(p.name for p in (out / "to_label").iterdir())
    yolo = pre / "yolo"  # the Ultralytics layout: images/ beside labels/, one .txt per image, data.yaml
    assert sorted(p.name for p in (yolo / "images").iterdir()) == picked
    assert sorted(p.stem for p in (yolo / "labels").iterdir()) == sorted(name.rsplit(".", 1)[0] for name in picked)
    for label_file in (yolo / "labels").iterdir():
        for line in label_file.read_text().splitlines():
            cls, *xywh = line.split()
            assert 0 <= int(cls) < 10 and all(0.0 <= float(v) <= 1.0 for v in xywh)
    assert "names:" in (yolo / "data.yaml").read_text()
    tasks = json.loads((pre / "label_studio_tasks.json").read_text())
    assert len(tasks) == 6 and all(t["data"]["image"].startswith("/data/local-files/?d=to_label/") for t in tasks)
    boxes = [r for t in tasks for p in t["predictions"] for r in p["result"]]
    assert len(boxes) == len(results) and all(r["type"] == "rectanglelabels" for r in boxes)
    assert all(0.0 <= r["value"]["x"] <= 100.0 for r in boxes)


def test_model_classes_must_match_the_labelled_set(tmp_path, digits_coco, pixel_backbone, trained, bccd, capsys):
    code, out = _select(
        tmp_path, digits_coco, pixel_backbone, "--budget", "3", "--model", str(trained), "--labeled", str(bccd)
    )
    assert code == 2 and "has classes the detector does not know" in capsys.readouterr().err and not out.exists()


def test_greedy_with_groups_goes_round_robin():
    angles = np.linspace(0.0, 3.0, 8)
    pool = _unit(np.c_[np.cos(angles), np.sin(angles)])
    groups = np.array(["a", "a", "a", "a", "a", "a", "b", "c"])
    picked, _, _ = greedy_pick(pool, pool[:0], 4, {"diversity": 1.0}, {}, threshold=0.9999, groups=groups)
    assert sorted(groups[picked[:3]]) == ["a", "b", "c"]  # every group once before any twice
    assert groups[picked[3]] == "a"  # b and c have nothing left


@pytest.mark.parametrize("policy", ["typical", "probcover", "ccs", "zcore"])
def test_coverage_policies_pick_over_groups_and_skip_the_labelled_set(
    tmp_path, digits_coco, pixel_backbone, labeled_folder, policy
):
    names = sorted(img.file_name for img in read_dataset(digits_coco).images)
    groups = tmp_path / "groups.csv"
    groups.write_text("image,group\n" + "".join(f"{name},clip{i % 4}\n" for i, name in enumerate(names)))
    extra = ["--policy", policy, "--budget", "8", "--labeled", str(labeled_folder), "--groups", str(groups)]
    code, out = _select(tmp_path, digits_coco, pixel_backbone, *extra)
    assert code == 0
    order = sorted((int(row["pick_order"]), row["image"]) for row in _rows(out) if int(row["pick_order"]) >= 0)
    picked = [image for _, image in order]
    assert len(picked) == 8 and not set(picked) & {f"scene_0000{i}.jpg" for i in range(5)}
    clip = {name: f"clip{i % 4}" for i, name in enumerate(names)}
    assert sorted(clip[name] for name in picked[:4]) == ["clip0", "clip1", "clip2", "clip3"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objectives"] == {policy: 1.0}


def test_a_coverage_policy_with_a_model_is_refused(tmp_path, digits_coco, pixel_backbone, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "labelmap.txt").write_text("0\n")
    code, out = _select(tmp_path, digits_coco, pixel_backbone, "--budget", "3", "--policy", "typical", "--model",
                        str(tmp_path / "model"))  # fmt: skip
    assert code == 2 and "picks by coverage alone" in capsys.readouterr().err and not out.exists()


def test_the_python_api_names_parameters(tmp_path, digits_coco):
    import edgeprune
    from edgeprune.errors import EdgepruneError

    with pytest.raises(EdgepruneError, match=r"^budget=0 must be at least 1$"):
        edgeprune.select(digits_coco, out=tmp_path / "out", budget=0)
    with pytest.raises(EdgepruneError, match=r"^threshold=1.5 must be a cosine similarity in \(0, 1\]$"):
        edgeprune.select(digits_coco, out=tmp_path / "out", budget=3, threshold=1.5)
    assert not (tmp_path / "out").exists()
