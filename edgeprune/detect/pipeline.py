"""``train-export`` glue: data -> TFRecords -> Model Garden training -> SavedModel -> TFLite -> metrics.

Work happens in ``.<out>.partial`` beside ``--out`` (checkpoints included, with a fingerprint of the data and the
config), so ``--resume`` continues an interrupted run, or redoes only the export after a failure past training; the
finished directory is renamed to ``--out`` once every check has passed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from ..atomic import check_output_dir, partial_dir, publish_dir
from ..datasets import read_dataset
from ..errors import EdgepruneError
from ..input_guard import check_apart, dataset_inputs
from .checkpoint_eval import ValidationPixels, evaluate_checkpoint
from .config import DataSettings, build_params
from .data import LabelSpace, remap, write_label_files, write_records
from .evaluate import coco_metrics, ground_truth, parity, run_detector, tf_detector, tflite_detector
from .export import convert, edgetpu_command, export_saved_model
from .init_detector import init_checkpoint
from .metadata import write_metadata
from .tflite_graph import edgetpu_summary, non_integer_ops, read_ops
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
    init_detector: str | None = None  # a train-export output whose whole detector the training starts from
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
    map_categories: str | None = None  # applied to TRAIN and VAL alike
    export: bool = True  # False: no SavedModel or TFLite, the checkpoint is evaluated in process (scaling cells)


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
    named = [("TRAIN", train_path), ("--val", val_path), ("--init-backbone", options.init_backbone)]
    named.append(("--init-detector", options.init_detector))
    for out in (Path(options.out), partial_dir(Path(options.out))):
        check_apart(out, named)
    mapping = options.map_categories
    train_set = read_dataset(train_path, format=options.train_format, split=options.train_split, map_categories=mapping)
    val_set = read_dataset(val_path, format=options.val_format, split=options.val_split, map_categories=mapping)
    for out in (Path(options.out), partial_dir(Path(options.out))):
        check_apart(out, dataset_inputs(train_set, "TRAIN") + dataset_inputs(val_set, "--val"))
    return train_export_datasets(train_set, val_set, options)


def _check_partial(out: Path, resume: bool) -> Path:
    work = partial_dir(out)
    if work.exists() and not resume:
        raise EdgepruneError(f"{work}: an interrupted run is there; pass resume=True to continue it or delete it")
    return work


def fingerprint(train_data, val_data, params) -> dict:
    """What a resumed run must share with the interrupted one: the data (image content, boxes, classes) and the
    experiment config (everything but the work paths)."""
    config = params.as_dict()
    for data_config in ("train_data", "validation_data"):
        config["task"][data_config].pop("input_path", None)
    return {
        "train_data": _data_digest(train_data),
        "val_data": _data_digest(val_data),
        "config": hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest(),
    }


def _data_digest(dataset) -> str:
    digest = hashlib.sha256(json.dumps([c.name for c in dataset.categories]).encode())
    for img in dataset.images:
        boxes = [(b.category_id, [round(v, 3) for v in b.bbox]) for b in img.boxes]
        digest.update(json.dumps([img.content()[0], img.width, img.height, boxes]).encode())
    return digest.hexdigest()


def _claim_work(work: Path, stamp: dict) -> bool:
    """Create ``work`` with its fingerprint, or check a resumed one against it; True when it was created."""
    stamp_file = work / "fingerprint.json"
    if work.exists():
        if not stamp_file.is_file():
            raise EdgepruneError(f"{work}: not a train-export work directory (no fingerprint.json); delete it")
        previous = json.loads(stamp_file.read_text())
        changed = [key for key in stamp if previous.get(key) != stamp[key]]
        if changed:
            raise EdgepruneError(
                f"{work}: cannot resume, the {' and '.join(k.replace('_', ' ') for k in changed)} changed since "
                "the checkpoint; rerun with the original data and settings, or delete it to start over"
            )
        return False
    work.mkdir(parents=True)
    (work / "fingerprint.json").write_text(json.dumps(stamp, indent=2))
    return True


def train_export_datasets(
    train_set,
    val_set,
    options: TrainExportOptions,
    labels: LabelSpace | None = None,
    validation: dict[int, ValidationPixels] | None = None,
) -> dict:
    """:func:`train_export` on datasets already read. ``labels`` fixes the class list (``edgeprune scaling`` trains
    every subset with the full set's classes); by default it is the training set's. Without ``options.export`` the
    checkpoint is evaluated in process (:mod:`.checkpoint_eval`); ``validation`` (VAL decoded at each input size)
    is filled on first use, so a caller that passes the same dict to every run decodes VAL once.

    Nothing that training produced is ever deleted: a failure after training (export, metadata, evaluation, an
    optional dependency, the parity check) leaves checkpoints and SavedModel in ``.<out>.partial`` and says how to
    redo only the export (``--resume``, which skips training when its checkpoint is at the last step)."""
    out = Path(options.out)
    check_output_dir(out, overwrite=False)
    work = _check_partial(out, options.resume)
    labels = labels or LabelSpace.from_dataset(train_set)
    train_data = remap(train_set, labels, role="TRAIN")
    val_data = remap(val_set, labels, role="VAL")
    if not any(img.boxes for img in val_data.images):
        raise EdgepruneError(f"{val_set.source}: validation set has no boxes; mAP needs annotated VAL images")
    params = _params(options, work, labels)
    fresh = _claim_work(work, fingerprint(train_data, val_data, params))
    train_seconds = _train_in(work, params, train_data, val_data, labels, fresh)
    hint = f"the trained model is kept in {work}; rerun the same command with --resume to redo only the export"
    try:
        if options.export:
            metrics = _export_and_evaluate(params, work, out, train_data, val_data, labels, options)
        else:
            metrics = _evaluate_checkpoint(params, work, val_data, labels, options, validation)
    except EdgepruneError as exc:
        raise EdgepruneError(f"{exc}; {hint}") from exc
    except Exception:
        log.error("export failed after training; %s", hint)
        raise
    metrics["seconds"]["train"] = round(train_seconds, 1)
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if "fp32" in metrics["tflite"]:
        gap = abs(metrics["tflite"]["fp32"]["mAP"] - metrics["tf"]["mAP"])
        if gap > options.parity_tolerance:
            raise EdgepruneError(
                f"fp32 TFLite mAP differs from the TF model's by {gap:.2f} points (tolerance "
                f"{options.parity_tolerance}); see {work / 'metrics.json'}. Nothing was written to {out}; {hint} "
                "(with another --parity-tolerance to accept it)"
            )
    publish_dir(work, out)
    return metrics


def _params(options: TrainExportOptions, work: Path, labels: LabelSpace):
    """The Model Garden experiment config: the records in ``work/data``, the options' budget and sizes, and the
    starting point (a pretrained backbone, or every layer of an earlier detector)."""
    if options.init_backbone and options.init_detector:
        raise EdgepruneError(
            f"init_backbone={options.init_backbone} and init_detector={options.init_detector} exclude each other: "
            "the detector holds a backbone"
        )
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
    if options.init_detector:  # before the fingerprint, so --resume refuses another starting detector
        params.task.init_checkpoint = init_checkpoint(params, options.init_detector, labels.names)
        params.task.init_checkpoint_modules = "all"
    return params


def _train_in(work: Path, params, train_data, val_data, labels: LabelSpace, fresh: bool) -> float:
    """Write the records and label files into ``work`` and train (resuming from its checkpoint); seconds spent. A
    user error before the first checkpoint of a fresh run leaves no work directory behind."""
    try:
        if not (work / "data").is_dir():
            write_records(train_data, work / "data", "train")
            write_records(val_data, work / "data", "val")
        write_label_files(labels, work)
        from official.core import train_utils

        train_utils.serialize_config(params, str(work))
        started = time.perf_counter()
        train(params, work / "model")
        return time.perf_counter() - started
    except EdgepruneError:
        if fresh and tf.train.latest_checkpoint(str(work / "model")) is None:
            shutil.rmtree(work, ignore_errors=True)  # nothing trained yet: leave no trace of a bad input
        raise


def _evaluate_checkpoint(
    params,
    work: Path,
    val_data,
    labels: LabelSpace,
    options: TrainExportOptions,
    validation: dict[int, ValidationPixels] | None,
) -> dict:
    size = int(params.task.model.input_size[0])
    started = time.perf_counter()
    validation = {} if validation is None else validation
    if size not in validation:
        validation[size] = ValidationPixels.load(val_data, size)
    scores = evaluate_checkpoint(params, work / "model", validation[size])
    return {
        "labels": labels.names,
        "image_size": size,
        "steps": options.steps,
        "loss_curve": loss_curve(work / "model"),
        "tf": scores,
        "tflite": {},
        "evaluated": "checkpoint, in process",
        "seconds": {"evaluate": round(time.perf_counter() - started, 1)},
    }


def _export_and_evaluate(
    params, work: Path, out: Path, train_data, val_data, labels: LabelSpace, options: TrainExportOptions
) -> dict:
    size = params.task.model.input_size[0]
    timings = {}
    started = time.perf_counter()
    for name in ("export", "saved_model"):
        shutil.rmtree(work / name, ignore_errors=True)
    saved_tf = export_saved_model(params, work / "model", work / "export" / "tf", nms_version="v2")
    shutil.copytree(saved_tf, work / "saved_model")
    if options.quantize:
        saved_tflite = export_saved_model(params, work / "model", work / "export" / "tflite", nms_version="tflite")
    calibration = [img.source for img in train_data.images]
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
        ops = read_ops(models["int8"])
        metrics["int8_ops"] = ops
        metrics["int8_non_integer_ops"] = non_integer_ops(ops)
        metrics["edgetpu"] = {**edgetpu_summary(ops), "compiler": edgetpu_command(out / models["int8"].name)}
    timings["evaluate"] = time.perf_counter() - started
    metrics["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    shutil.rmtree(work / "export", ignore_errors=True)
    return metrics
