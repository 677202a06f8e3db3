"""``edgeprune select``: choose the next images to label from an unlabelled pool.

Objectives, each a score in [0, 1] per pool image, combined as LightlyOne combines them: greedily, one image at a
time, the image with the largest product of its objectives' scores raised to their strengths is picked.

- ``diversity``: the distance (unit embeddings, as ``curate`` and ``leaks`` compute them) to the nearest image of
  the labelled set and of what was picked so far, divided by the largest such distance at the start: k-center
  greedy (Sener & Savarese, "Active learning for convolutional neural networks: a core-set approach", ICLR 2018)
  when it is the only objective. It is updated after every pick.
- ``prototype``: the distance to the nearest prototype of k-means on the pool and the labelled set, as a percentile
  rank in [0, 1]; ``--prototype hard`` prefers far images, ``easy`` near ones (Sorscher et al. 2022).
- with ``--model`` (a ``train-export`` output): ``uncertainty`` of the detector on the image (least confidence,
  margin or entropy over its detections, :mod:`edgeprune.uncertainty`) and ``balance`` towards the classes that are
  rare in the labelled set, by predicted class. The picked images then get pre-annotations
  (:mod:`edgeprune.preannotate`).

Defaults: diversity alone without a model, diversity x uncertainty with one. Near-copies (cosine >= ``--threshold``)
of the labelled set are never candidates, nor are near-copies of an image already picked.

``--policy typical|probcover|ccs|zcore`` picks by one of the coverage policies of ``curate`` instead
(:mod:`edgeprune.curation.coverage`; ProbCover counts what the labelled set's balls cover as covered, CCS ranks by
the prototype distance). ``--groups`` (a video or clip per pool image) deals the picks round-robin over the groups:
no group gets a second pick before every group with candidates left has one.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_output_dir, check_output_dir
from .curation.diversity import distance_to_labeled, greedy_pick
from .curation.types import DatasetReading, EmbeddingSettings
from .errors import EdgepruneError
from .input_guard import check_apart, dataset_inputs

PROTOTYPE_MODES = ("hard", "easy")
SELECT_POLICIES = ("objectives", "typical", "probcover", "ccs", "zcore")


@dataclass(kw_only=True)
class SelectOptions:
    """select settings, in parts (embedding, reading of the pool) and the rest (flat keys equal the CLI options)."""

    out: Path
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    reading: DatasetReading = field(default_factory=DatasetReading)
    budget: int = 100
    labeled: Path | None = None
    diversity: float = 1.0  # strengths: 0 turns an objective off
    prototype: str = "hard"
    prototype_strength: float = 0.0
    model: Path | None = None  # a train-export output: uncertainty, class balance, pre-annotations
    uncertainty: str = "least"  # least, margin or entropy (edgeprune/uncertainty.py)
    uncertainty_strength: float = 1.0  # with --model
    balance_strength: float = 0.0  # with --model
    min_score: float = 0.3  # pre-annotations keep detections of at least this score
    clusters: int = 10
    threshold: float = 0.95
    labeled_split: str | None = None
    image_mode: str = "copy"
    overwrite: bool = False
    map_points: int = 5000
    policy: str = "objectives"  # or a coverage policy: typical, probcover, ccs, zcore
    groups: Path | None = None  # CSV image,group: picks dealt round-robin over the groups
    probcover_delta: float | None = None
    ccs_beta: float = 0.1
    ccs_strata: int = 50
    seed: int = 0
    progress: bool = True


@dataclass
class SelectResult:
    """What a select run did, for the summary screen and ``summary.json``."""

    out: Path
    pool: int
    labeled: int
    picked: int
    excluded_near_copies: int
    objectives: dict[str, float]  # name -> strength
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary screen."""
        used = " x ".join(f"{name}^{strength:g}" for name, strength in self.objectives.items() if strength)
        out = [
            f"edgeprune select: {self.picked} of {self.pool} pool images to label next ({used})",
            f"  labelled set: {self.labeled} images; {self.excluded_near_copies} pool images are near-copies of it",
        ]
        return out + [f"  note: {note}" for note in self.notes]


def check_options(options: SelectOptions) -> None:
    """Reject bad settings before any work."""
    if options.budget < 1:
        raise EdgepruneError(f"budget={options.budget} must be at least 1")
    if options.policy not in SELECT_POLICIES:
        raise EdgepruneError(f"policy={options.policy} is unknown; choose one of {', '.join(SELECT_POLICIES)}")
    if options.policy != "objectives" and options.model is not None:
        raise EdgepruneError(
            f"model={options.model} feeds the objectives; policy={options.policy} picks by coverage alone"
        )
    if options.prototype not in PROTOTYPE_MODES:
        raise EdgepruneError(f"prototype={options.prototype} must be hard or easy")
    if min(options.diversity, options.prototype_strength, options.uncertainty_strength, options.balance_strength) < 0:
        raise EdgepruneError("objective strengths must not be negative")
    model_on = options.model is not None and (options.uncertainty_strength or options.balance_strength)
    if not options.diversity and not options.prototype_strength and not model_on:
        raise EdgepruneError("every objective is off: give diversity=S or prototype_strength=S a positive strength")
    if not 0.0 < options.threshold <= 1.0:
        raise EdgepruneError(f"threshold={options.threshold} must be a cosine similarity in (0, 1]")
    from .uncertainty import UNCERTAINTIES

    if options.uncertainty not in UNCERTAINTIES:
        raise EdgepruneError(f"uncertainty={options.uncertainty} is unknown; choose one of {', '.join(UNCERTAINTIES)}")
    if options.model is None and options.balance_strength:
        raise EdgepruneError(
            f"balance_strength={options.balance_strength} needs model=DIR (classes are the detector's predictions)"
        )
    if options.model is not None and not (Path(options.model) / "labelmap.txt").is_file():
        raise EdgepruneError(f"{options.model}: not a train-export output (no labelmap.txt)")


def model_objectives(
    pool, labeled, options: SelectOptions, detections: list | None = None
) -> tuple[dict[str, np.ndarray], list, list[str]]:
    """``--model``: uncertainty (and balance) per pool image, the detections (computed unless given), the
    detector's class names. A labelled set whose classes differ from the detector's is an error."""
    from .detect.checkpoint_eval import detect_dataset
    from .uncertainty import balance, uncertainty

    names = [line for line in (Path(options.model) / "labelmap.txt").read_text().splitlines() if line.strip()]
    counts = labeled.box_counts() if labeled is not None else {}
    labeled_names = {name for name, count in counts.items() if count}
    unknown = sorted(labeled_names - set(names))
    if unknown:  # the labelled set may lack a class the detector knows (a rare one); balance then favours it
        raise EdgepruneError(
            f"{options.model}: the labelled set {options.labeled} has classes the detector does not know "
            f"({', '.join(unknown)}; the detector's: {', '.join(names)})"
        )
    if detections is None:
        detections = detect_dataset(options.model, pool, progress_enabled=options.progress)
    objectives = {"uncertainty": uncertainty(detections, options.uncertainty)}
    if options.balance_strength:
        by_label = {names.index(name) + 1: count for name, count in counts.items() if name in names}
        objectives["balance"] = balance(detections, by_label, len(names))
    return objectives, detections, names


def prototype_scores(features: np.ndarray, clusters: int, seed: int, mode: str) -> np.ndarray:
    """Percentile rank in [0, 1] of each row's distance to its nearest k-means prototype (cosine, spherical);
    ``easy`` reverses it."""
    from .cluster import fit_prototypes
    from .curation.score import prototype_scores as nearest

    k = max(1, min(clusters, len(features)))
    centers = fit_prototypes("kmeans", k, features, random_state=seed, metric="cosine").cluster_centers_
    _, distances = nearest(features, centers, "cosine")
    ranks = np.argsort(np.argsort(distances, kind="stable"), kind="stable") / max(len(distances) - 1, 1)
    return ranks if mode == "hard" else 1.0 - ranks


def coverage_pick(
    pool: np.ndarray, labeled: np.ndarray, options: SelectOptions, groups: np.ndarray | None
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """``--policy typical|probcover|ccs|zcore``: the policy's order over the pool rows that are not near-copies of
    the labelled set (dealt over ``groups``), walked until ``budget`` picks, skipping near-copies of a pick. Returns
    what :func:`greedy_pick` returns; the shown score is each image's place in the order (1 = first)."""
    from .cluster import fit_prototypes
    from .curation.coverage import deal_by_group, probcover_order, purity_delta
    from .curation.score import prototype_scores as nearest_prototype
    from .curation.select import CoverageSettings, preference_order

    near_labeled = distance_to_labeled(pool, labeled) <= (1.0 - options.threshold) + 1e-6
    rows = np.flatnonzero(~near_labeled)
    every = np.concatenate([pool, labeled])
    k = max(1, min(options.clusters, len(every)))
    centers = fit_prototypes("kmeans", k, every, random_state=options.seed, metric="cosine").cluster_centers_
    labels, distances = nearest_prototype(pool[rows], centers, "cosine")
    settings = CoverageSettings(delta=options.probcover_delta, beta=options.ccs_beta, strata=options.ccs_strata)
    if options.policy == "probcover":  # the labelled set's balls count as covered
        delta = settings.delta if settings.delta is not None else purity_delta(pool[rows], labels)
        covered = distance_to_labeled(pool[rows], labeled) <= delta**2 / 2 + 1e-6  # |x - y|^2 = 2 cosine distance
        order = rows[probcover_order(pool[rows], delta, seed=options.seed, covered=covered)]
    else:
        order = rows[
            preference_order(options.policy, distances, labels, options.budget, options.seed, pool[rows], settings)
        ]
    if groups is not None:
        order = deal_by_group(order, groups)
    picked: list[int] = []
    for index in order:
        if len(picked) == options.budget:
            break
        if not picked or (pool[picked] @ pool[index]).max() < options.threshold - 1e-6:
            picked.append(int(index))
    place = np.zeros(len(pool))
    place[order] = 1.0 - np.arange(len(order)) / max(len(order), 1)
    return np.asarray(picked, np.int64), {options.policy: place}, near_labeled


def _features(pool, labeled, options: SelectOptions, timings) -> tuple[np.ndarray, np.ndarray, object]:
    """Unit features of the pool and the labelled set, centred on both together (as ``leaks`` does)."""
    from .curation.embed import embed_for_curation
    from .curation.features import scoring_features

    embedding, run = options.embedding, {"seed": options.seed, "progress": options.progress}
    embedded = embed_for_curation(pool, embedding, timings, **run)
    rows = [embedded.images]
    if labeled is not None:
        embedding = embedding.reusing(embedded.backbone)  # the labelled set through the pool's backbone
        rows.append(embed_for_curation(labeled, embedding, timings, **run).images)
    features = scoring_features(np.concatenate(rows))
    return features[: len(pool)], features[len(pool) :], embedded.backbone


@dataclass
class Picks:
    """What :func:`choose_next` chose: pool rows in pick order, each objective's score per pool row, the pool rows
    that were near-copies of the labelled set, both sets' unit features, and the detector's output with ``--model``."""

    picked: np.ndarray
    shown: dict[str, np.ndarray]
    near_labeled: np.ndarray
    pool_features: np.ndarray
    labeled_features: np.ndarray
    strengths: dict[str, float]
    detections: list | None = None
    names: list[str] = field(default_factory=list)


def choose_next(
    pool, labeled, options: SelectOptions, timings: dict[str, float], detections: list | None = None
) -> Picks:
    """Pick up to ``options.budget`` images of the dataset ``pool`` given the labelled dataset ``labeled`` (or None),
    writing nothing. ``detections``: the detector's output on ``pool`` when the caller already has it (else, with
    ``options.model``, it is computed)."""
    pool_features, labeled_features, _ = _features(pool, labeled, options, timings)
    started = time.perf_counter()
    strengths = {"diversity": options.diversity, "prototype": options.prototype_strength}
    fixed, names = {}, []
    if options.model is not None:
        fixed, detections, names = model_objectives(pool, labeled, options, detections)
        strengths.update(uncertainty=options.uncertainty_strength, balance=options.balance_strength)
        fixed = {name: values for name, values in fixed.items() if strengths[name]}
    if options.prototype_strength:
        every = np.concatenate([pool_features, labeled_features])
        fixed["prototype"] = prototype_scores(every, options.clusters, options.seed, options.prototype)[: len(pool)]
    from .curation.groups import image_groups

    groups = image_groups(pool, options.groups)  # --groups, or the video of each frame
    if options.policy != "objectives":
        strengths = {options.policy: 1.0}
        picked, shown, near_labeled = coverage_pick(pool_features, labeled_features, options, groups)
    else:
        picked, shown, near_labeled = greedy_pick(
            pool_features, labeled_features, options.budget, strengths, fixed, options.threshold, groups
        )
    timings["select"] = time.perf_counter() - started
    return Picks(picked, shown, near_labeled, pool_features, labeled_features, strengths, detections, names)


def select_next(pool_path: Path | str, options: SelectOptions) -> SelectResult:
    """Choose ``options.budget`` pool images; write ``to_label/``, ``selection.csv``, ``report.html``."""
    from .datasets import read_dataset, read_with_options

    check_options(options)
    check_output_dir(options.out, overwrite=options.overwrite)
    named = [("POOL", pool_path), ("--labeled", options.labeled), ("--embeddings", options.embedding.embeddings)]
    check_apart(options.out, named + [("--cache-dir", options.embedding.cache_dir)])
    timings: dict[str, float] = {}
    started = time.perf_counter()
    pool = read_with_options(pool_path, options.reading, options.embedding.cache_dir)
    labeled = None
    if options.labeled:
        labeled = read_dataset(
            options.labeled, split=options.labeled_split, map_categories=options.reading.map_categories
        )
    check_apart(options.out, dataset_inputs(pool, "POOL") + (dataset_inputs(labeled, "--labeled") if labeled else []))
    if options.budget > len(pool):
        raise EdgepruneError(f"{pool_path}: budget={options.budget} is larger than the pool ({len(pool)} images)")
    timings["read"] = time.perf_counter() - started
    picks = choose_next(pool, labeled, options, timings)
    if not len(picks.picked):
        raise EdgepruneError(
            f"{pool_path}: every pool image is a near-copy (cosine >= {options.threshold}) of the labelled set "
            f"{options.labeled}; nothing new to label"
        )
    notes = []
    if len(picks.picked) < options.budget:
        notes.append(
            f"only {len(picks.picked)} pool images are not near-copies of the labelled set or of each other; all of "
            f"them are picked (--budget {options.budget})"
        )
    result = SelectResult(
        options.out, len(pool), len(labeled) if labeled else 0, len(picks.picked), int(picks.near_labeled.sum()),
        {name: strength for name, strength in picks.strengths.items() if strength}, timings, notes,
    )  # fmt: skip
    model = (picks.detections, picks.names) if picks.detections is not None else None
    _write(
        pool, picks.picked, picks.shown, picks.near_labeled, picks.pool_features, picks.labeled_features, options,
        result, model,
    )  # fmt: skip
    return result


def _write(pool, picked, shown, near_labeled, pool_features, labeled_features, options, result, model) -> None:
    from .datasets.files import copy_image
    from .datasets.video import frame_columns, frame_values
    from .report.next_batch import write_select_report

    started = time.perf_counter()
    order = np.full(len(pool), -1, np.int64)
    order[picked] = np.arange(len(picked))
    with atomic_output_dir(options.out, overwrite=options.overwrite) as tmp:
        for index in picked:
            img = pool.images[index]
            copy_image(img, tmp / "to_label" / img.file_name, mode=options.image_mode)
        with (tmp / "selection.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["image", "pick_order", *shown, "near_copy_of_labeled", *frame_columns(pool)])
            for i, img in enumerate(pool.images):
                scores = [f"{float(values[i]):.6f}" for values in shown.values()]
                writer.writerow([img.file_name, int(order[i]), *scores, int(near_labeled[i]), *frame_values(pool, img)])
        if model is not None:
            from .preannotate import write_preannotations

            detections, names = model
            images = [pool.images[i] for i in picked]
            write_preannotations(
                tmp / "pre_annotations", images, [detections[i] for i in picked], names, min_score=options.min_score
            )
            _yolo_images(tmp, images)
        write_select_report(tmp / "report.html", pool, picked, shown, pool_features, labeled_features, result, options)
        result.seconds["write"] = time.perf_counter() - started
        (tmp / "summary.json").write_text(json.dumps(asdict(result), default=str, indent=2))


def _yolo_images(tmp: Path, images: list) -> None:
    """The picked images under ``pre_annotations/yolo/images/`` (hard links to ``to_label/``, copies where the
    filesystem has none), so the YOLO labels sit in the Ultralytics layout."""
    import os
    import shutil

    for img in images:
        source, target = tmp / "to_label" / img.file_name, tmp / "pre_annotations" / "yolo" / "images" / img.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source.resolve(), target)
        except OSError:
            shutil.copyfile(source, target)
