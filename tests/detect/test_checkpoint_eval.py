"""The in-process, batched checkpoint evaluator against the exported SavedModel it replaces in scaling runs."""

import json

import numpy as np
import pytest

from edgeprune.datasets import read_dataset
from edgeprune.detect.checkpoint_eval import (
    ValidationPixels,
    coco_detections,
    detect_batches,
    evaluate_checkpoint,
    restored_model,
)
from edgeprune.detect.evaluate import coco_metrics, ground_truth, load_pixels, run_detector, tf_detector
from edgeprune.errors import EdgepruneError


def _params(run):
    import official.vision.registry_imports  # noqa: F401
    from official.core import exp_factory
    from official.modeling import hyperparams

    base = exp_factory.get_exp_config("retinanet_mobile_coco")
    return hyperparams.override_params_dict(base, str(run / "params.yaml"), is_strict=True)


def test_batched_detections_match_the_exported_saved_model(trained, digits_coco):
    params = _params(trained)
    size = int(params.task.model.input_size[0])
    dataset = read_dataset(digits_coco).subset(np.arange(43) < 11)  # 11 images: two batches of 8, one padded
    validation = ValidationPixels.load(dataset, size)
    assert validation.pixels.shape == (11, size, size, 3)
    for img, pixels in zip(dataset.images, validation.pixels):
        np.testing.assert_allclose(pixels, load_pixels(img, size), atol=1e-3)  # what the exported model is fed
    batched = detect_batches(restored_model(params, trained / "model"), validation.pixels, batch_size=8)
    exported = tf_detector(trained / "saved_model")
    compared = 0
    for pixels, (boxes, classes, scores) in zip(validation.pixels, batched):
        ref_boxes, ref_classes, ref_scores = exported(pixels)
        assert len(boxes) == len(ref_boxes)
        np.testing.assert_allclose(scores, ref_scores, atol=1e-4)  # both sorted by score
        _assert_same_detections(boxes, classes, scores, ref_boxes, ref_classes, ref_scores, box_atol=1e-3)
        compared += len(boxes)
    assert compared > 0


def _assert_same_detections(boxes, classes, scores, ref_boxes, ref_classes, ref_scores, *, box_atol: float) -> None:
    """Each detection has its own counterpart: same class, score within 1e-4, box within ``box_atol``.

    Detections are ordered by score, and an untrained-ish detector gives many anchors the same score, so two
    graphs that agree to float rounding may list tied detections in a different order. A one-to-one match
    compares them without depending on that order.
    """
    ref_boxes, ref_classes, ref_scores = (np.asarray(a) for a in (ref_boxes, ref_classes, ref_scores))
    unused = np.ones(len(ref_boxes), dtype=bool)
    for box, label, score in zip(boxes, classes, scores):
        candidates = (
            unused
            & (ref_classes == label)
            & (np.abs(ref_scores - score) <= 1e-4)
            & np.all(np.abs(ref_boxes - box) <= box_atol, axis=1)
        )
        assert candidates.any(), f"no exported detection matches class {label}, score {score:.4f}, box {box}"
        unused[np.flatnonzero(candidates)[0]] = False


def _by_image(detections: list[dict], n_images: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    grouped = [([], [], []) for _ in range(n_images)]
    for d in detections:
        boxes, classes, scores = grouped[d["image_id"] - 1]
        boxes.append(d["bbox"])
        classes.append(d["category_id"])
        scores.append(d["score"])
    return [tuple(np.asarray(a, np.float64) for a in group) for group in grouped]


def test_metrics_are_pycocotools_on_the_detections_train_export_evaluates(trained, digits_coco):
    """The in-process evaluator scores the detections ``train-export`` scores, in the same pixel coordinates.

    The mAP numbers themselves are not compared with ``metrics.json``: 30 steps leave the tiny detector's scores
    all within 1e-6 of its prior (0.0105), so its mAP (0.01-0.11%) is set by the order of ties, which differs
    between graphs and CPUs in the last float bit.
    """
    params = _params(trained)
    size = int(params.task.model.input_size[0])
    dataset = read_dataset(digits_coco)
    validation = ValidationPixels.load(dataset, size)
    assert validation.truth == ground_truth(dataset)  # the ground truth train-export's evaluation uses
    per_image = detect_batches(restored_model(params, trained / "model"), validation.pixels, batch_size=16)
    checkpoint = coco_detections(dataset, per_image)
    exported = run_detector(tf_detector(trained / "saved_model"), dataset, size, "exported")
    assert len(checkpoint) == len(exported) > 0
    for ours, theirs in zip(_by_image(checkpoint, len(dataset)), _by_image(exported, len(dataset))):
        _assert_same_detections(*ours, *theirs, box_atol=0.05)  # pixels of 64-px images
    metrics = evaluate_checkpoint(params, trained / "model", validation, batch_size=16, progress_enabled=False)
    assert metrics == coco_metrics(validation.truth, checkpoint)
    recorded = json.loads((trained / "metrics.json").read_text())["tf"]
    assert metrics["per_class"].keys() == recorded["per_class"].keys()


def test_bad_inputs(trained, digits_coco, tmp_path):
    params = _params(trained)
    with pytest.raises(EdgepruneError, match="no checkpoint to evaluate"):
        restored_model(params, tmp_path)
    validation = ValidationPixels.load(read_dataset(digits_coco).subset(np.arange(43) < 2), 64)
    with pytest.raises(EdgepruneError, match="validation pixels are 64 px"):
        evaluate_checkpoint(params, trained / "model", validation)
