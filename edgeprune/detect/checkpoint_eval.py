"""COCO mAP of a trained checkpoint, in process and batched: no SavedModel export, no per-image calls.

``edgeprune scaling`` trains dozens of detectors and only needs each one's accuracy; exporting a SavedModel and
running it image by image cost more than a minute per cell. Here the Keras model is rebuilt from the experiment
config, its weights are read from the checkpoint, and the validation images run through it in fixed-size batches.
The input is what the exported models receive (the image stretched to ``S`` x ``S``, raw pixels, normalised the same
way), and the boxes are scored with the same pycocotools code as ``train-export``'s ``tf`` metrics.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..datasets import Dataset
from ..embed.images import image_batches, image_source
from ..errors import EdgepruneError
from ..progress import progress
from .evaluate import coco_metrics, ground_truth
from .export import MEAN_RGB, STDDEV_RGB

log = logging.getLogger(__name__)


def pixel_batches(dataset: Dataset, image_size: int, batch_size: int):
    """``tf.data`` batches of ``dataset``'s images as an exported detector is fed: fully decoded, stretched to
    ``image_size`` square, raw 0..255 pixels."""
    sources = [image_source(img) for img in dataset.images]
    names = [img.file_name for img in dataset.images]
    return image_batches(
        sources, image_size=image_size, preprocess="raw", batch_size=batch_size, names=names, full_scale=True
    )


@dataclass
class ValidationPixels:
    """The validation images stretched to the detector input once, shared by every model evaluated on them."""

    dataset: Dataset
    image_size: int
    pixels: np.ndarray  # float32 [N, S, S, 3], 0..255
    truth: dict  # COCO ground truth (image ids are positions + 1)

    @classmethod
    def load(cls, dataset: Dataset, image_size: int, *, batch_size: int = 32) -> ValidationPixels:
        """Decode and resize every image of ``dataset`` in a parallel ``tf.data`` pipeline."""
        batches = pixel_batches(dataset, image_size, batch_size)
        pixels = np.concatenate([batch.numpy() for batch in batches]) if len(dataset) else np.zeros((0, 0, 0, 3))
        return cls(dataset, image_size, pixels.astype(np.float32), ground_truth(dataset))


def restored_model(params, checkpoint_dir: Path, *, score_threshold: float | None = None):
    """The detector of ``params`` with the weights of the latest checkpoint in ``checkpoint_dir``, its detection
    generator set to TF NMS (``v2``); ``score_threshold`` replaces the pre-NMS score threshold."""
    import official.vision.registry_imports  # noqa: F401
    from official.core import task_factory

    checkpoint = tf.train.latest_checkpoint(str(checkpoint_dir))
    if checkpoint is None:
        raise EdgepruneError(f"{checkpoint_dir}: no checkpoint to evaluate")
    evaluated = copy.deepcopy(params)
    generator = evaluated.task.model.detection_generator
    generator.nms_version = "v2"
    if score_threshold is not None:
        generator.pre_nms_score_threshold = score_threshold
    evaluated.task.init_checkpoint = None
    model = task_factory.get_task(evaluated.task).build_model()
    tf.train.Checkpoint(model=model).read(checkpoint).expect_partial()
    return model


def detect_batches(model, pixels: np.ndarray, *, batch_size: int = 32, progress_enabled: bool = True) -> list:
    """Run ``model`` over ``pixels`` ``[N, S, S, 3]``; per image, ``(boxes, classes, scores)`` with boxes
    normalised ``(ymin, xmin, ymax, xmax)`` clipped to [0, 1] and classes 1-based label ids. The last batch is
    padded, so the graph is traced once."""
    size = pixels.shape[1]
    chunks = (pixels[start : start + batch_size] for start in range(0, len(pixels), batch_size))
    return detect_stream(model, chunks, len(pixels), size, batch_size=batch_size, progress_enabled=progress_enabled)


def detect_stream(model, chunks, total: int, size: int, *, batch_size: int = 32, progress_enabled: bool = True):
    """:func:`detect_batches` over an iterable of pixel chunks of at most ``batch_size`` images (a ``tf.data``
    pipeline, for sets too large to hold decoded)."""
    mean, std = tf.constant(MEAN_RGB, tf.float32), tf.constant(STDDEV_RGB, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([batch_size, size, size, 3], tf.float32)], reduce_retracing=True)
    def forward(batch):
        shape = tf.fill([batch_size, 2], tf.constant(size, tf.float32))
        out = model((batch - mean) / std, image_shape=shape, training=False)
        boxes = tf.clip_by_value(out["detection_boxes"] / size, 0.0, 1.0)
        return boxes, out["detection_classes"], out["detection_scores"], out["num_detections"]

    results = []
    with progress(total, "detecting", "img", enabled=progress_enabled) as bar:
        for chunk in chunks:
            chunk = np.asarray(chunk, np.float32)
            padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk), *chunk.shape[1:]), np.float32)])
            boxes, classes, scores, counts = (t.numpy() for t in forward(tf.constant(padded)))
            for i in range(len(chunk)):
                n = int(counts[i])
                results.append((boxes[i, :n], classes[i, :n].astype(int), scores[i, :n]))
            bar.update(len(chunk))
    return results


def coco_detections(dataset: Dataset, per_image: list) -> list[dict]:
    """COCO result dicts in each image's pixels (image ids are positions + 1, as in :func:`ground_truth`)."""
    results = []
    for position, (img, (boxes, classes, scores)) in enumerate(zip(dataset.images, per_image)):
        scale = np.array([img.height, img.width, img.height, img.width], np.float64)
        for (ymin, xmin, ymax, xmax), label, score in zip(boxes * scale, classes, scores):
            results.append(
                {
                    "image_id": position + 1,
                    "category_id": int(label),
                    "bbox": [float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin)],
                    "score": float(score),
                }
            )
    return results


def read_params(run_dir: Path):
    """The experiment config a ``train-export`` output (or a scaling cell's model) was trained with."""
    import official.vision.registry_imports  # noqa: F401
    from official.core import exp_factory
    from official.modeling import hyperparams

    path = Path(run_dir) / "params.yaml"
    if not path.is_file():
        raise EdgepruneError(f"{run_dir}: not a train-export output (no params.yaml)")
    return hyperparams.override_params_dict(
        exp_factory.get_exp_config("retinanet_mobile_coco"), str(path), is_strict=True
    )


def detect_dataset(run_dir: Path, dataset: Dataset, *, batch_size: int = 32, progress_enabled: bool = True) -> list:
    """The detections of a ``train-export`` output's checkpoint on every image of ``dataset`` (decoded and resized
    in a ``tf.data`` pipeline, never all held), as :func:`detect_batches` gives them."""
    params = read_params(run_dir)
    size = int(params.task.model.input_size[0])
    model = restored_model(params, Path(run_dir) / "model")
    chunks = (batch.numpy() for batch in pixel_batches(dataset, size, batch_size))
    return detect_stream(model, chunks, len(dataset), size, batch_size=batch_size, progress_enabled=progress_enabled)


def evaluate_checkpoint(
    params,
    checkpoint_dir: Path,
    validation: ValidationPixels,
    *,
    batch_size: int = 32,
    score_threshold: float | None = None,
    progress_enabled: bool = True,
) -> dict:
    """COCO mAP, mAP50 and per-class AP (percent) of the latest checkpoint on ``validation``."""
    size = int(params.task.model.input_size[0])
    if validation.image_size != size:
        raise EdgepruneError(f"validation pixels are {validation.image_size} px; the detector takes {size} px")
    model = restored_model(params, checkpoint_dir, score_threshold=score_threshold)
    per_image = detect_batches(model, validation.pixels, batch_size=batch_size, progress_enabled=progress_enabled)
    return coco_metrics(validation.truth, coco_detections(validation.dataset, per_image))
