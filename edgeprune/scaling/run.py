"""``edgeprune scaling``: curate the training set at several kept fractions with several policies and seeds, train
the same detector with the same step budget on each subset, and score COCO mAP on one validation set.

Layout of ``--out``::

    plan.json                 the settings every cell shares (a rerun must match them)
    cells/<cell>/selection.json  what the curation kept (file names, counts)
    cells/<cell>/model/       train-export's output for the cell (metrics.json, saved_model, checkpoints)
    scaling.json / .csv / .png  results so far, rewritten after every cell

A cell is finished when ``cells/<cell>/model/metrics.json`` exists; a rerun with the same ``--out`` skips finished
cells and resumes an interrupted one from its last checkpoint (train-export's ``--resume``). Fractions, policies,
seeds and levels may grow between runs; the results cover every finished cell.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..curation import SELFSUP, CurateOptions, choose
from ..curation.dedup import shared_content
from ..curation.pipeline import score_dataset
from ..curation.types import compose_options
from ..datasets import read_dataset
from ..errors import EdgepruneError
from ..input_guard import check_apart, dataset_inputs
from .plan import FULL, UNIFORM, Cell, base_policy, check_same_settings, per_video, plan_cells
from .results import write_results

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class ExperimentSettings:
    """What every cell of an experiment shares: the detector, its training budget, the curation backbone and the
    data. ``edgeprune scaling`` and ``edgeprune label-loop`` both build on it."""

    out: Path
    seeds: int = 3
    steps: int = 1000
    config: str | None = None
    overrides: list[str] = field(default_factory=list)
    batch_size: int | None = None
    image_size: int | None = None
    width: float | None = None
    init_backbone: str | None = None  # a backbone dir/checkpoint for the detector, or "selfsup": the curation one
    init_detector: str | None = None  # a train-export output every cell's detector starts from
    backbone: str = SELFSUP
    pretrain_steps: int | None = None
    cache_dir: Path | None = None
    train_format: str | None = None
    val_format: str | None = None
    train_split: str | None = None
    val_split: str | None = None
    map_categories: str | None = None  # applied to TRAIN and VAL alike
    export: bool = False  # also export each cell's SavedModel and TFLite models (the mAP comes from the checkpoint)
    progress: bool = True


@dataclass(kw_only=True)
class ScalingOptions(ExperimentSettings):
    """The grid and the curation settings of a scaling run (the curation seed is the cell's)."""

    fractions: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    policies: list[str] = field(default_factory=lambda: ["random", "easy", "hard", "stratified"])
    levels: list[str] = field(default_factory=lambda: ["image"])
    method: str = "kmeans"
    clusters: str = "10"
    per_cluster: bool = True
    object_clusters: str = "category"
    aggregate: str = "mean"
    min_per_category: int = 0
    dedup: float = 0.95  # the near-duplicate threshold of the dedup+P policies
    groups: Path | None = None  # CSV image,group of TRAIN (videos): stride per video, picks dealt over the groups
    probcover_delta: float | None = None  # probcover's ball radius (None: the purity rule)
    ccs_beta: float = 0.1  # ccs: the hardest share dropped first
    ccs_strata: int = 50  # ccs: strata of the prototype distance

    def shared_settings(self) -> dict:
        """What must not change between runs into one ``--out`` (the grid itself may grow).

        The coverage parameters are recorded only where they differ from their defaults, so a run started before
        they were options continues."""
        keys = ("steps", "config", "overrides", "batch_size", "image_size", "width", "init_backbone", "backbone")
        keys += ("pretrain_steps", "init_detector")
        keys += ("method", "clusters")
        keys += ("per_cluster", "object_clusters", "aggregate", "min_per_category")
        keys += ("dedup", "map_categories", "groups")
        settings = {k: str(v) if isinstance(v := getattr(self, k), Path) else v for k in keys}
        defaults = ScalingOptions.__dataclass_fields__
        for key in ("probcover_delta", "ccs_beta", "ccs_strata"):
            if getattr(self, key) != defaults[key].default:
                settings[key] = getattr(self, key)
        return settings


def check_disjoint(train_set, val_set, train_path, val_path) -> None:
    """Refuse a validation set that shares images (same file content) with the training set."""
    if not val_set.num_boxes():
        raise EdgepruneError(f"{val_path}: the validation set has no boxes; give a labelled split with val_split=NAME")
    shared = shared_content(train_set, val_set)
    if shared:
        examples = ", ".join(f"{v} = {t}" for t, v in shared[:3])
        raise EdgepruneError(
            f"{val_path}: {len(shared)} of {len(val_set)} validation images also appear in the training set "
            f"{train_path} (same file content, e.g. {examples}); use a held-out split (--val-split)"
        )


def _resolve_backbone(train_set, options: ScalingOptions, cache_dir: Path) -> str:
    """One backbone for every cell: the self-supervised one is pretrained once (seed 0) and reused."""
    if options.backbone != SELFSUP:
        return options.backbone
    from ..embed.selfsup import pretrained_for_dataset

    handle, _ = pretrained_for_dataset(
        train_set, cache_root=cache_dir, steps=options.pretrain_steps, seed=0, progress=options.progress
    )
    return handle


def _curate_options(options: ScalingOptions, cell: Cell, backbone: str, cache_dir: Path) -> CurateOptions:
    policy, deduplicated = base_policy(cell.policy if cell.policy != FULL else "random")
    uniform = policy == UNIFORM
    return compose_options(
        CurateOptions,
        dict(
            out=options.out,
            keep=cell.fraction,
            policy="random" if uniform else policy,
            dedup=options.dedup if deduplicated else None,
            exact=True,  # every policy keeps the same number of images
            per_cluster=options.per_cluster and not uniform,
            groups=options.groups if per_video(cell.policy) else None,
            method=options.method,
            clusters=options.clusters,
            seed=cell.seed,
            backbone=backbone,
            cache_dir=cache_dir,
            level=cell.level if cell.level != "-" else "image",
            object_clusters=options.object_clusters,
            aggregate=options.aggregate,
            min_per_category=options.min_per_category,
            probcover_delta=options.probcover_delta,
            ccs_beta=options.ccs_beta,
            ccs_strata=options.ccs_strata,
            progress=options.progress,
        ),
    )


def _row(cell: Cell, selection: dict, metrics: dict) -> dict:
    return {
        "cell": cell.name,
        "level": cell.level,
        "policy": cell.policy,
        "fraction": cell.fraction,
        "seed": cell.seed,
        "images": selection["images"],
        "boxes": selection["boxes"],
        "mAP": metrics["tf"]["mAP"],
        "mAP50": metrics["tf"]["mAP50"],
        "train_seconds": metrics.get("seconds", {}).get("train"),
        "cell_seconds": round(sum(metrics.get("seconds", {}).values()), 1),  # train, export and evaluation
        "per_class": metrics["tf"].get("per_class", {}),
    }


def finished_rows(out: Path) -> list[dict]:
    """The result rows of every finished cell in ``out``."""
    rows = []
    for model_metrics in sorted((out / "cells").glob("*/model/metrics.json")):
        cell_dir = model_metrics.parents[1]
        selection = json.loads((cell_dir / "selection.json").read_text())
        cell = Cell(**selection["cell"])
        rows.append(_row(cell, selection, json.loads(model_metrics.read_text())))
    return rows


def load_experiment(train_path: str, val_path: str, options: ExperimentSettings) -> tuple:
    """Read TRAIN and VAL (refusing overlaps with ``--out`` and with each other), the class list every cell trains
    with, and the curation backbone: ``(train_set, val_set, labels, backbone, cache_dir)``."""
    from ..detect.data import LabelSpace
    from ..embed import default_cache_root

    out = Path(options.out)
    cache_dir = options.cache_dir or default_cache_root()
    named = [("TRAIN", train_path), ("--val", val_path), ("--cache-dir", cache_dir)]
    check_apart(out, [*named, ("--init-detector", options.init_detector)])
    mapping = options.map_categories
    train_set = read_dataset(train_path, format=options.train_format, split=options.train_split, map_categories=mapping)
    val_set = read_dataset(val_path, format=options.val_format, split=options.val_split, map_categories=mapping)
    check_apart(out, dataset_inputs(train_set, "TRAIN") + dataset_inputs(val_set, "--val"))
    check_disjoint(train_set, val_set, train_path, val_path)
    labels = LabelSpace.from_dataset(train_set)
    return train_set, val_set, labels, _resolve_backbone(train_set, options, cache_dir), cache_dir


def train_cell(subset, val_set, out: Path, seed: int, options: ExperimentSettings, labels, backbone: str, validation):
    """Train (or resume) one cell's detector on ``subset`` with the experiment's budget and ``seed``; evaluate it
    on ``val_set``. Returns train-export's metrics."""
    from ..detect.pipeline import TrainExportOptions, train_export_datasets

    train_options = TrainExportOptions(
        out=out,
        config=options.config,
        steps=options.steps,
        batch_size=options.batch_size,
        image_size=options.image_size,
        width=options.width,
        resume=True,
        export=options.export,
        quantize=["fp32", "fp16", "int8"] if options.export else [],
        init_backbone=backbone if options.init_backbone == SELFSUP else options.init_backbone,
        init_detector=options.init_detector,
        overrides=[*options.overrides, f"task.train_data.seed={seed}"],
    )
    _seed_everything(seed)
    return train_export_datasets(subset, val_set, train_options, labels=labels, validation=validation)


def run_scaling(train_path: str, val_path: str, options: ScalingOptions) -> dict:
    """Run (or continue) the experiment; returns the ``scaling.json`` document."""
    cells = plan_cells(options.fractions, options.policies, options.levels, options.seeds)
    videos = [policy for policy in options.policies if per_video(policy) and policy != "stride"]
    if videos and options.groups is None:
        raise EdgepruneError(f"policies={','.join(videos)} deal over videos: give groups=CSV (image,group)")
    out = Path(options.out)
    if out.exists() and not (out / "plan.json").is_file() and any(out.iterdir()):
        raise EdgepruneError(f"{out}: exists and is not a scaling run directory; choose another out=DIR")
    train_set, val_set, labels, backbone, cache_dir = load_experiment(train_path, val_path, options)
    settings = options.shared_settings()
    if (out / "plan.json").is_file():
        check_same_settings(json.loads((out / "plan.json").read_text())["settings"], settings, out)
    out.mkdir(parents=True, exist_ok=True)
    plan = {"settings": settings, "train": str(train_path), "val": str(val_path), "backbone path": backbone}
    (out / "plan.json").write_text(json.dumps(plan, indent=2))
    title = f"{Path(str(train_path)).name}: pruned training sets vs random"
    in_val = {name for name, count in val_set.box_counts().items() if count}  # AP is defined only for these
    box_totals = sorted((count, name) for name, count in train_set.box_counts().items() if name in in_val)
    rare = [name for _, name in box_totals[:5]]
    todo = [c for c in cells if not (out / "cells" / c.name / "model" / "metrics.json").is_file()]
    log.info("scaling: %d cells in the grid, %d finished, %d to run", len(cells), len(cells) - len(todo), len(todo))
    scored_cache: dict[tuple[str, int], object] = {}
    validation: dict = {}  # VAL decoded at the detector's input size once, shared by every cell
    for number, cell in enumerate(todo, 1):
        started = time.perf_counter()
        log.info("cell %d/%d: %s", number, len(todo), cell.name)
        cell_dir = out / "cells" / cell.name
        cell_dir.mkdir(parents=True, exist_ok=True)
        if cell.policy == FULL:
            kept = np.ones(len(train_set), bool)
        else:
            curate_options = _curate_options(options, cell, backbone, cache_dir)
            key = (cell.level, cell.seed, curate_options.selection.dedup)
            if key not in scored_cache:
                scored_cache[key] = score_dataset(train_set, curate_options)
            kept, _ = choose(train_set, scored_cache[key], curate_options, fill_budget=True)
        subset = train_set.subset(kept)
        selection = {
            "cell": asdict(cell),
            "images": int(kept.sum()),
            "boxes": subset.num_boxes(),
            "box_counts": subset.box_counts(),
            "kept": [img.file_name for img in subset.images],
        }
        (cell_dir / "selection.json").write_text(json.dumps(selection, indent=2))
        metrics = train_cell(subset, val_set, cell_dir / "model", cell.seed, options, labels, backbone, validation)
        log.info(
            "cell %s: %d images, mAP %.1f (%.0f s)",
            cell.name,
            kept.sum(),
            metrics["tf"]["mAP"],
            time.perf_counter() - started,
        )
        write_results(out, finished_rows(out), settings, title=title, rare=rare)
    return write_results(out, finished_rows(out), settings, title=title, rare=rare)


def _seed_everything(seed: int) -> None:
    """Seed TF and numpy so the detector's initial weights depend on the cell's seed only."""
    import tensorflow as tf

    tf.random.set_seed(seed)
    np.random.seed(seed)
