"""``edgeprune label-loop``: simulate the labelling loop on a labelled dataset and measure whether a selection
strategy pays.

Each seed starts from a small random labelled set of TRAIN and its trained detector. In every round, each strategy
picks ``batch`` more images from the rest of TRAIN (their labels are "revealed", as a labeller would return them),
the detector is trained on the grown set with the same step budget, and scored on VAL. Strategies:

- ``random``: uniformly random pool images (seeded by seed and round), the baseline;
- ``diversity``: ``select``'s k-center greedy from the labelled set, no model;
- ``uncertainty``: ``select --model`` with the previous round's detector of that strategy, uncertainty alone;
- ``combined``: diversity x uncertainty, ``select``'s default with a model.

Selection goes through :func:`edgeprune.next_batch.choose_next`, the code ``edgeprune select`` runs. A strategy's
labelled set grows from its own previous round, so round 2 of ``uncertainty`` uses the detector trained on round 1's
uncertainty picks.

Layout of ``--out``::

    plan.json                          the settings every cell shares (a rerun must match them)
    cells/start-s<seed>/               the initial random set and its detector (or, with --start-from, a
                                       scaling run's random cells are read in place)
    cells/<strategy>-r<round>-s<seed>/ selection.json (labelled images, the round's picks) and model/
    labeling.json / .csv / .md / .png  results so far, rewritten after every cell

A cell is finished when its ``model/metrics.json`` exists; a rerun skips finished cells and resumes an interrupted
one from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EdgepruneError
from ..input_guard import check_apart
from .plan import check_same_settings, fraction_label
from .run import ExperimentSettings, load_experiment, train_cell

log = logging.getLogger(__name__)

STRATEGIES = ("random", "diversity", "uncertainty", "combined")
START = "start"
TRAINING_KEYS = ("steps", "config", "overrides", "batch_size", "image_size", "width", "init_backbone", "backbone")
TRAINING_KEYS += ("pretrain_steps", "init_detector", "map_categories")


@dataclass(kw_only=True)
class LabelingOptions(ExperimentSettings):
    """The simulated labelling loop: the start set, the rounds and the strategies compared."""

    start: float = 0.05  # the initial random labelled fraction of TRAIN
    batch: int | None = None  # images picked per round (default: as many as the start set)
    rounds: int = 2
    strategies: list[str] = field(default_factory=lambda: list(STRATEGIES))
    uncertainty: str = "least"  # select's rule: least, margin or entropy
    threshold: float = 0.95  # select's near-copy threshold (cosine)
    start_from: Path | None = None  # a scaling --out whose random cells at --start are the start sets

    def shared_settings(self) -> dict:
        """What must not change between runs into one ``--out`` (seeds, rounds and strategies may grow)."""
        keys = TRAINING_KEYS + ("start", "batch", "uncertainty", "threshold")
        settings = {k: getattr(self, k) for k in keys}
        settings["start_from"] = str(self.start_from) if self.start_from else None
        return settings


def cell_name(strategy: str, round_: int, seed: int) -> str:
    """``start-s0`` for round 0 (shared by every strategy), else ``combined-r2-s0``."""
    return f"{START}-s{seed}" if round_ == 0 else f"{strategy}-r{round_}-s{seed}"


def check_options(options: LabelingOptions) -> None:
    """Reject bad settings before any work."""
    if not 0.0 < options.start < 1.0:
        raise EdgepruneError(f"start={options.start} must be a fraction in (0, 1)")
    if options.rounds < 1 or options.seeds < 1:
        raise EdgepruneError(f"rounds={options.rounds} and seeds={options.seeds} must be at least 1")
    if options.batch is not None and options.batch < 1:
        raise EdgepruneError(f"batch={options.batch} must be at least 1")
    unknown = [s for s in options.strategies if s not in STRATEGIES]
    if not options.strategies or unknown:
        raise EdgepruneError(f"strategies={','.join(options.strategies)}: choose from {', '.join(STRATEGIES)}")


class StartSets:
    """The initial labelled set of each seed, and where its trained detector is."""

    def __init__(self, train_set, options: LabelingOptions, scaling: dict | None) -> None:
        self.train_set, self.options, self.scaling = train_set, options, scaling
        self.count = max(1, round(options.start * len(train_set)))

    def scaling_cell(self, seed: int) -> Path:
        """The scaling run's random cell at ``--start`` for ``seed`` (finished, or an error)."""
        cell = Path(self.options.start_from) / "cells" / f"image-random-{fraction_label(self.options.start)}-s{seed}"
        if not (cell / "model" / "metrics.json").is_file():
            raise EdgepruneError(
                f"{cell}: no finished random cell at --start {self.options.start} for seed {seed} in --start-from"
            )
        return cell

    def mask(self, seed: int) -> np.ndarray:
        """Which TRAIN images seed ``seed`` starts with."""
        kept = np.zeros(len(self.train_set), bool)
        if self.scaling is None:
            kept[np.random.default_rng([seed, 0]).choice(len(self.train_set), self.count, replace=False)] = True
            return kept
        names = json.loads((self.scaling_cell(seed) / "selection.json").read_text())["kept"]
        index = {img.file_name: i for i, img in enumerate(self.train_set.images)}
        missing = [n for n in names if n not in index]
        if missing:
            raise EdgepruneError(f"{self.scaling_cell(seed)}: {len(missing)} kept images are not in TRAIN")
        kept[[index[n] for n in names]] = True
        return kept


def scaling_settings(options: LabelingOptions) -> dict | None:
    """``--start-from``: the scaling run's settings, after checking that it trained with ours (None without it)."""
    if options.start_from is None:
        return None
    plan_path = Path(options.start_from) / "plan.json"
    if not plan_path.is_file():
        raise EdgepruneError(f"start_from={options.start_from} must be the out directory of `edgeprune scaling`")
    settings = json.loads(plan_path.read_text())["settings"]
    ours = {k: getattr(options, k) for k in TRAINING_KEYS}
    check_same_settings({k: settings.get(k) for k in TRAINING_KEYS}, ours, options.start_from)
    return settings


def pick(strategy: str, train_set, labeled: np.ndarray, batch: int, model: Path, options: LabelingOptions, seed: int,
         round_: int, cache: dict) -> tuple[np.ndarray, dict]:  # fmt: skip
    """The ``batch`` TRAIN rows ``strategy`` adds to the labelled rows ``labeled``, and how long the choice took."""
    from ..curation.types import EmbeddingSettings
    from ..next_batch import SelectOptions, choose_next

    pool_rows = np.flatnonzero(~labeled)
    started = time.perf_counter()
    if strategy == "random":
        rng = np.random.default_rng([seed, round_])
        return np.sort(rng.choice(pool_rows, batch, replace=False)), {"select": time.perf_counter() - started}
    uses_model = strategy in ("uncertainty", "combined")
    select_options = SelectOptions(
        out=options.out,
        budget=batch,
        diversity=0.0 if strategy == "uncertainty" else 1.0,
        model=model if uses_model else None,
        uncertainty=options.uncertainty,
        threshold=options.threshold,
        embedding=EmbeddingSettings(backbone=cache["backbone"], cache_dir=cache["cache_dir"]),
        seed=seed,
        progress=options.progress,
    )
    detections = None
    if uses_model:
        if model not in cache["detections"]:  # one pass of a detector over TRAIN serves every strategy using it
            from ..detect.checkpoint_eval import detect_dataset

            cache["detections"][model] = detect_dataset(model, train_set, progress_enabled=options.progress)
        detections = [cache["detections"][model][i] for i in pool_rows]
    timings: dict[str, float] = {}
    picks = choose_next(train_set.subset(~labeled), train_set.subset(labeled), select_options, timings, detections)
    timings["select"] = time.perf_counter() - started
    if len(picks.picked) < batch:
        log.warning("%s round %d seed %d: only %d images left that are not near-copies", strategy, round_, seed,
                    len(picks.picked))  # fmt: skip
    return np.sort(pool_rows[picks.picked]), timings


def run_labeling(train_path: str, val_path: str, options: LabelingOptions) -> dict:
    """Run (or continue) the simulated labelling loop; returns the ``labeling.json`` document."""
    from .labeling_results import write_labeling_results

    check_options(options)
    out = Path(options.out)
    if out.exists() and not (out / "plan.json").is_file() and any(out.iterdir()):
        raise EdgepruneError(f"{out}: exists and is not a label-loop directory; choose another out=DIR")
    check_apart(out, [("--start-from", options.start_from)])  # its cells are read in place, never written
    scaling = scaling_settings(options)
    train_set, val_set, labels, backbone, cache_dir = load_experiment(train_path, val_path, options)
    starts = StartSets(train_set, options, scaling)
    batch, left = options.batch or starts.count, len(train_set) - starts.count
    if batch * options.rounds > left:
        raise EdgepruneError(
            f"--batch {batch} x --rounds {options.rounds} is larger than what is left of TRAIN after the start set "
            f"({left} images)"
        )
    settings = options.shared_settings()
    if (out / "plan.json").is_file():
        check_same_settings(json.loads((out / "plan.json").read_text())["settings"], settings, out, "label-loop run")
    out.mkdir(parents=True, exist_ok=True)
    plan = {"settings": settings, "train": str(train_path), "val": str(val_path), "backbone path": backbone}
    (out / "plan.json").write_text(json.dumps(plan, indent=2))
    cache = {"backbone": backbone, "cache_dir": cache_dir, "detections": {}}
    validation: dict = {}
    title = f"{Path(str(train_path)).name}: simulated labelling, strategies vs random"
    for seed in range(options.seeds):
        start_mask = starts.mask(seed)
        if starts.scaling is not None:
            start_model = starts.scaling_cell(seed) / "model"
        else:
            start_model = out / "cells" / cell_name(START, 0, seed) / "model"
            _run_cell(out, START, 0, seed, train_set, start_mask, [], val_set, options, labels, backbone,
                      validation, {})  # fmt: skip
        for strategy in options.strategies:
            labeled, model = start_mask, start_model
            for round_ in range(1, options.rounds + 1):
                cell_dir = out / "cells" / cell_name(strategy, round_, seed)
                if (cell_dir / "model" / "metrics.json").is_file():
                    labeled = _labeled_mask(train_set, cell_dir)
                else:
                    added, timings = pick(strategy, train_set, labeled, batch, model, options, seed, round_, cache)
                    grown = labeled.copy()
                    grown[added] = True
                    _run_cell(out, strategy, round_, seed, train_set, grown, added, val_set, options, labels,
                              backbone, validation, timings)  # fmt: skip
                    labeled = grown
                model = cell_dir / "model"
                write_labeling_results(out, finished_rows(out, starts), settings, title=title)
    return write_labeling_results(out, finished_rows(out, starts), settings, title=title)


def _run_cell(out, strategy, round_, seed, train_set, labeled, added, val_set, options, labels, backbone, validation,
              timings) -> None:  # fmt: skip
    cell_dir = out / "cells" / cell_name(strategy, round_, seed)
    if (cell_dir / "model" / "metrics.json").is_file():
        return
    cell_dir.mkdir(parents=True, exist_ok=True)
    subset = train_set.subset(labeled)
    added_names = [train_set.images[i].file_name for i in added]
    selection = {
        "cell": {"strategy": strategy, "round": round_, "seed": seed},
        "images": int(labeled.sum()),
        "boxes": subset.num_boxes(),
        "labeled": [img.file_name for img in subset.images],
        "picked": added_names,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    (cell_dir / "selection.json").write_text(json.dumps(selection, indent=2))
    started = time.perf_counter()
    log.info("label-loop cell %s: %d labelled images", cell_dir.name, labeled.sum())
    metrics = train_cell(subset, val_set, cell_dir / "model", seed, options, labels, backbone, validation)
    log.info("label-loop cell %s: AP50 %.1f (%.0f s)", cell_dir.name, metrics["tf"]["mAP50"],
             time.perf_counter() - started)  # fmt: skip


def _labeled_mask(train_set, cell_dir: Path) -> np.ndarray:
    names = set(json.loads((cell_dir / "selection.json").read_text())["labeled"])
    return np.array([img.file_name in names for img in train_set.images])


def finished_rows(out: Path, starts: StartSets | None = None) -> list[dict]:
    """One row per finished cell of ``out`` (and the ``--start-from`` cells read in place)."""
    rows = []
    for metrics_path in sorted((out / "cells").glob("*/model/metrics.json")):
        selection = json.loads((metrics_path.parents[1] / "selection.json").read_text())
        rows.append(_row(selection["cell"], selection["images"], json.loads(metrics_path.read_text()), selection))
    if starts is not None and starts.scaling is not None:
        for seed in sorted({r["seed"] for r in rows}):
            cell = starts.scaling_cell(seed)
            selection = json.loads((cell / "selection.json").read_text())
            metrics = json.loads((cell / "model" / "metrics.json").read_text())
            rows.append(_row({"strategy": START, "round": 0, "seed": seed}, selection["images"], metrics, {}))
    return rows


def _row(cell: dict, images: int, metrics: dict, selection: dict) -> dict:
    return {
        "cell": cell_name(cell["strategy"], cell["round"], cell["seed"]),
        "strategy": cell["strategy"],
        "round": cell["round"],
        "seed": cell["seed"],
        "images": images,
        "mAP": metrics["tf"]["mAP"],
        "mAP50": metrics["tf"]["mAP50"],
        "select_seconds": selection.get("seconds", {}).get("select"),
        "train_seconds": metrics.get("seconds", {}).get("train"),
    }
