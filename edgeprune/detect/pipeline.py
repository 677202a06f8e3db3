"""``train-export`` glue: data -> TFRecords -> Model Garden training -> SavedModel -> TFLite -> metrics.

Work happens in ``.<out>.partial`` beside ``--out`` (checkpoints included), so ``--resume`` continues an
interrupted run; the finished directory is renamed to ``--out``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import check_output_dir
from ..datasets import read_dataset
from ..errors import EdgepruneError
from .config import DataSettings, build_params
from .data import LabelSpace, remap, write_label_files, write_records
from .evaluate import coco_metrics, ground_truth, parity, run_detector, tf_detector, tflite_detector
from .export import convert, edgetpu_command, export_saved_model, non_integer_ops
from .metadata import write_metadata
from .train import check_checkpoint, loss_curve, train

log = logging.getLogger(__name__)


@dataclass
class TrainExportOptions:
    """train-export settings (keys equal the CLI options)."""

    out: Path
    config: str | None = None
    steps: int = 1000
    batch_size: int | None = None
    image_size: int | None = None
    width: float | None = None
    init_backbone: str | None = None
    resume: bool = False
    quantize: list[str] = field(default_factory=lambda: ["fp32", "fp16", "int8"])
    overrides: list[str] = field(default_factory=list)
    calibration_steps: int = 100
    parity_tolerance: float = 1.0
    checkpoint_every: int = 100
    train_format: str | None = None
    val_format: str | None = None
    train_split: str | None = None
    val_split: str | None = None


def _encoder_checkpoint(path: str | None) -> str | None:
    """``--init-backbone`` may name an edgeprune backbone directory; use its encoder checkpoint."""
    if path and (Path(path) / "backbone.json").is_file():
        meta = json.loads((Path(path) / "backbone.json").read_text())
        return str(Path(path) / meta["encoder_checkpoint"])
    return path


def train_export(train_path: str, val_path: str, options: TrainExportOptions) -> dict:
    """Run the whole job; returns the metrics written to ``metrics.json``."""
    check_output_dir(Path(options.out), overwrite=False)
    _check_partial(Path(options.out), options.resume)
    train_set = read_dataset(train_path, format=options.train_format, split=options.train_split)
    val_set = read_dataset(val_path, format=options.val_format, split=options.val_split)
    return train_export_datasets(train_set, val_set, options)


def _check_partial(out: Path, resume: bool) -> Path:
    work = out.with_name(f".{out.name}.partial")
    if work.exists() and not resume:
        raise EdgepruneError(f"{work}: an interrupted run is there; pass --resume to continue it or delete it")
    return work


def train_export_datasets(train_set, val_set, options: TrainExportOptions, labels: LabelSpace | None = None) -> dict:
    """:func:`train_export` on datasets already read. ``labels`` fixes the class list (``edgeprune scaling`` trains
    every subset with the full set's classes); by default it is the training set's."""
    out = Path(options.out)
    check_output_dir(out, overwrite=False)
    work = _check_partial(out, options.resume)
    labels = labels or LabelSpace.from_dataset(train_set)
    train_data = remap(train_set, labels, role="TRAIN")
    val_data = remap(val_set, labels, role="VAL")
    init = _encoder_checkpoint(options.init_backbone)
    settings = DataSettings(
        str(work / "data" / "train.record-*"),
        str(work / "data" / "val.record-*"),
        len(labels.names),
        options.steps,
        options.batch_size,
        options.image_size,
        options.width,
        init,
        options.checkpoint_every,
    )
    params = build_params(options.config, settings, options.overrides)
    if init:
        check_checkpoint(init)
    fresh = not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(params, work, out, train_data, val_data, labels, options)
    except EdgepruneError:
        if fresh:
            shutil.rmtree(work, ignore_errors=True)
        raise


def _run(params, work: Path, out: Path, train_data, val_data, labels: LabelSpace, options: TrainExportOptions) -> dict:
    size = params.task.model.input_size[0]
    if not (work / "data").is_dir():
        write_records(train_data, work / "data", "train")
        write_records(val_data, work / "data", "val")
    write_label_files(labels, work)
    from official.core import train_utils

    train_utils.serialize_config(params, str(work))
    timings = {}
    started = time.perf_counter()
    train(params, work / "model")
    timings["train"] = time.perf_counter() - started

    started = time.perf_counter()
    for name in ("export", "saved_model"):
        shutil.rmtree(work / name, ignore_errors=True)
    saved_tf = export_saved_model(params, work / "model", work / "export" / "tf", nms_version="v2")
    shutil.copytree(saved_tf, work / "saved_model")
    if options.quantize:
        saved_tflite = export_saved_model(params, work / "model", work / "export" / "tflite", nms_version="tflite")
    calibration = [img.path or img.encoded for img in train_data.images]
    models = {}
    for quantization in options.quantize:  # none for scaling runs, which only need the TF model's mAP
        path = work / f"model_{quantization}.tflite"
        path.write_bytes(
            convert(
                saved_tflite,
                quantization,
                image_size=size,
                calibration=calibration,
                calibration_steps=options.calibration_steps,
            )
        )
        write_metadata(path, labels.names, image_size=size, quantization=quantization)
        models[quantization] = path
    timings["export"] = time.perf_counter() - started

    started = time.perf_counter()
    gt = ground_truth(val_data)
    reference = run_detector(tf_detector(saved_tf), val_data, size, "evaluating TF model")
    metrics = {
        "labels": labels.names,
        "image_size": size,
        "steps": options.steps,
        "loss_curve": loss_curve(work / "model"),
        "tf": coco_metrics(gt, reference),
        "tflite": {},
    }
    for quantization, path in models.items():
        detections = run_detector(tflite_detector(path), val_data, size, f"evaluating {quantization}")
        metrics["tflite"][quantization] = {
            **coco_metrics(gt, detections),
            "size_bytes": path.stat().st_size,
            "parity_vs_tf": parity(reference, detections),
        }
    if "int8" in models:
        metrics["int8_non_integer_ops"] = non_integer_ops(models["int8"])
        metrics["edgetpu_compiler"] = edgetpu_command(out / models["int8"].name)
    timings["evaluate"] = time.perf_counter() - started
    metrics["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shutil.rmtree(work / "export", ignore_errors=True)
    os.replace(work, out)
    if "fp32" in models:
        gap = abs(metrics["tflite"]["fp32"]["mAP"] - metrics["tf"]["mAP"])
        if gap > options.parity_tolerance:
            raise EdgepruneError(
                f"fp32 TFLite mAP differs from the TF model's by {gap:.2f} points (tolerance "
                f"{options.parity_tolerance}); see {out / 'metrics.json'}"
            )
    return metrics
