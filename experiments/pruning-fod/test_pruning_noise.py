"""experiments/pruning-fod/pruning_noise.py: AP50 recomputed from per-detection matches, and which series are paired."""

import contextlib
import io

import numpy as np
import pruning_noise
import pytest


def _ground_truth(rng, images=12):
    annotations = []
    for image_id in range(1, images + 1):
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, 60, 2)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [x, y, 30, 30],
                    "area": 900.0,
                    "iscrowd": 0,
                }
            )
    return {
        "images": [{"id": i, "width": 100, "height": 100, "file_name": f"{i}.jpg"} for i in range(1, images + 1)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "debris"}],
    }


def _detections(rng, gt):
    detections = []
    for ann in gt["annotations"]:
        if rng.random() < 0.8:  # most boxes found, shifted a little
            x, y, w, h = ann["bbox"]
            shift = rng.uniform(-8, 8, 2)
            detections.append(
                {
                    "image_id": ann["image_id"],
                    "category_id": 1,
                    "bbox": [x + shift[0], y + shift[1], w, h],
                    "score": float(rng.random()),
                }
            )
    for image_id in rng.integers(1, len(gt["images"]) + 1, 6):  # and some false alarms
        detections.append(
            {
                "image_id": int(image_id),
                "category_id": 1,
                "bbox": [70.0, 70.0, 20.0, 20.0],
                "score": float(rng.random()),
            }
        )
    return detections


def _pycocotools_ap50(gt, detections, image_ids):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(detections), "bbox")
        evaluator.params.imgIds = image_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return 100.0 * evaluator.stats[1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap50_from_matches_equals_pycocotools_on_every_subset_of_images(seed):
    rng = np.random.default_rng(seed)
    gt = _ground_truth(rng)
    detections = _detections(rng, gt)
    flags = pruning_noise.match_flags(gt, detections)
    everything = np.arange(len(gt["images"]))
    assert pruning_noise.ap50(flags, everything) == pytest.approx(
        _pycocotools_ap50(gt, detections, [image["id"] for image in gt["images"]]), abs=1e-6
    )
    subset = np.array([0, 3, 4, 7, 9])
    image_ids = [int(i) + 1 for i in subset]
    assert pruning_noise.ap50(flags, subset) == pytest.approx(_pycocotools_ap50(gt, detections, image_ids), abs=1e-6)


def test_curated_series_are_paired_with_both_random_series_on_common_seeds():
    names = [
        "full-s0",
        "full-s1",
        "image-random-0.005-s0",
        "image-random-0.005-s1",
        "image-random-0.005-s2",
        "image-dedup+random-0.005-s0",
        "image-dedup+random-0.005-s1",
        "image-easy-0.005-s0",
        "image-easy-0.005-s1",
        "image-easy-0.005-s2",
        "object-dedup+hard-0.005-s1",
        "object-dedup+hard-0.005-s2",
        "image-coreset-0.01-s0",  # one seed: nothing to pair
    ]
    groups = pruning_noise.seed_groups(names)
    assert groups["image-easy-0.005"] == {0: "image-easy-0.005-s0", 1: "image-easy-0.005-s1", 2: "image-easy-0.005-s2"}
    assert pruning_noise.paired_with_random(groups) == [
        ("image-easy-0.005", "image-random-0.005", [0, 1, 2]),
        ("image-easy-0.005", "image-dedup+random-0.005", [0, 1]),
        ("object-dedup+hard-0.005", "image-random-0.005", [1, 2]),
    ]


def test_out_inside_the_scaling_run_is_refused_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "scaling.json").write_text("{}")
    segments = tmp_path / "split.json"
    segments.write_text("{}")
    argv = ["pruning_noise.py", str(run), "--val", str(tmp_path / "val"), "--segments", str(segments)]
    monkeypatch.setattr("sys.argv", [*argv, "--cache", str(tmp_path / "cache"), "--out", str(run / "scaling")])
    with pytest.raises(SystemExit) as exit_info:
        pruning_noise.main()
    assert exit_info.value.code == 2
    assert "lies inside the scaling run" in capsys.readouterr().err
    assert (run / "scaling.json").read_text() == "{}" and not (tmp_path / "cache").exists()
