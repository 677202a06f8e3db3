"""Model Garden experiment configs for the SSD-style MobileNetV2 detector.

The experiment starts from Model Garden's ``retinanet_mobile_coco``, takes the YAML overrides of a file in
``configs/``, then edgeprune's data and budget settings, then ``--set key=value`` overrides (dotted keys of the
``ExperimentConfig``). Nothing here invents a second config system.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import tensorflow as tf  # noqa: F401  (Model Garden expects TF initialised first)

from ..errors import EdgepruneError

log = logging.getLogger(__name__)
PACKAGED_CONFIGS = "edgeprune.configs"  # the repository's configs/, installed as package data
DEFAULT_CONFIG = "ssdlite_mobilenetv2_fpnlite_320.yaml"
QUICK_CONFIG = "ssdlite_mobilenetv2_fpnlite_256_w050.yaml"


@dataclass
class DataSettings:
    """What the data and the command line decide: paths, classes, budget."""

    train_records: str
    val_records: str
    num_classes: int  # object classes, without background
    steps: int
    batch_size: int | None = None
    image_size: int | None = None
    width: float | None = None
    init_backbone: str | None = None
    checkpoint_every: int = 100


def packaged_configs() -> list[str]:
    """The names of the configs shipped with edgeprune."""
    return sorted(p.name for p in resources.files(PACKAGED_CONFIGS).iterdir() if p.name.endswith(".yaml"))


def resolve_config(config: str | Path | None) -> Path:
    """A config path, or the name of a shipped config (``configs/NAME`` works from any directory)."""
    path = Path(config or DEFAULT_CONFIG)
    if path.is_file():
        return path
    if path.name in packaged_configs():
        with resources.as_file(resources.files(PACKAGED_CONFIGS) / path.name) as packaged:
            return Path(packaged)
    raise EdgepruneError(f"{config}: config file not found (shipped configs: {', '.join(packaged_configs())})")


def build_params(config: str | Path | None, data: DataSettings, overrides: list[str] | None = None):
    """The ``ExperimentConfig`` for training and export, validated."""
    import official.vision.registry_imports  # noqa: F401  registers the vision experiments
    from official.core import exp_factory
    from official.modeling import hyperparams

    params = exp_factory.get_exp_config("retinanet_mobile_coco")
    path = resolve_config(config)
    try:
        params = hyperparams.override_params_dict(params, str(path), is_strict=True)
    except (KeyError, ValueError, TypeError) as exc:
        raise EdgepruneError(f"{path}: invalid experiment override ({exc})")
    model = params.task.model
    model.num_classes = data.num_classes + 1  # class 0 is background
    if data.image_size:
        model.input_size = [data.image_size, data.image_size, 3]
    if data.width:
        model.backbone.mobilenet.filter_size_scale = data.width
    task = params.task
    task.train_data.input_path = data.train_records
    task.validation_data.input_path = data.val_records
    task.validation_data.is_training = False
    task.annotation_file = None
    if data.batch_size:
        task.train_data.global_batch_size = data.batch_size
        task.validation_data.global_batch_size = data.batch_size
    if data.init_backbone:
        task.init_checkpoint = data.init_backbone
        task.init_checkpoint_modules = "backbone"
    else:
        task.init_checkpoint = None
    trainer = params.trainer
    trainer.train_steps = data.steps
    trainer.steps_per_loop = min(data.checkpoint_every, data.steps)
    trainer.summary_interval = trainer.steps_per_loop
    trainer.checkpoint_interval = min(data.checkpoint_every, data.steps)
    trainer.validation_interval = data.steps
    trainer.max_to_keep = 2
    lr = trainer.optimizer_config.learning_rate
    if lr.type == "cosine":
        lr.cosine.decay_steps = data.steps
    warmup = trainer.optimizer_config.warmup
    if warmup.type == "linear":
        warmup.linear.warmup_steps = min(warmup.linear.warmup_steps, max(1, data.steps // 10))
    if overrides:
        try:
            params = hyperparams.override_params_dict(params, ",".join(overrides), is_strict=True)
        except (KeyError, ValueError, TypeError) as exc:
            raise EdgepruneError(f"--set {' '.join(overrides)}: {exc}")
    validate(params)
    params.validate()
    return params


def validate(params) -> None:
    """Reject settings Model Garden would fail on later, with a message that says why."""
    model = params.task.model
    size = model.input_size[0]
    stride = 2**model.max_level
    if model.input_size[0] != model.input_size[1]:
        raise EdgepruneError(f"image size must be square, got {model.input_size[:2]}")
    if size % stride:
        raise EdgepruneError(
            f"image size {size} is not divisible by 2^max_level = {stride}; "
            f"use a multiple of {stride} (e.g. {(size // stride + 1) * stride})"
        )
    if model.backbone.type != "mobilenet":
        raise EdgepruneError(f"backbone type must be mobilenet for edge export, got {model.backbone.type}")
