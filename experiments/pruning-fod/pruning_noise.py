"""Where the pruning grid's seed-to-seed spread comes from: the detector, or the few videos it is scored on.

Every finished cell of an ``edgeprune scaling`` run is run once over the validation frames (batched, in process, as
the run scored it), and each detection's IoU-0.5 match is kept. AP50 is then recomputed, the COCO way, on subsets of
the validation *videos* (segments of ``experiments/fod-a/fod_split.py``), which costs no detector time:

- each cell's AP50 with a video-bootstrap standard error (the error bar a different val set of the same size gives);
- for cells that differ only by seed (and for curated-minus-random differences at the same seed, against both
  random series: ``random`` and ``dedup+random``), the spread over seeds when scored on ``k`` of the validation
  videos, for several ``k``. A fit of ``var(k) = a + b / k`` splits the spread into a part no val set removes (``a``:
  one seed's detector is better everywhere) and a part that shrinks with more videos (``b / k``: detectors that
  differ by seed do well on different videos). Its prediction for larger val sets says whether a bigger held-out
  split, or a steadier training recipe, is what the grid needs.

    python experiments/pruning-fod/pruning_noise.py data/pruning_fod --val data/fod_a --val-split val \
        --map-categories '*=debris' \
        --segments experiments/fod-a/results/split/split.json --cache data/noise_cache \
        --out experiments/pruning-fod/results/scratch/noise
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import io
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgeprune.datasets import read_dataset
from edgeprune.errors import EdgepruneError
from edgeprune.input_guard import check_apart
from edgeprune.scaling.plan import DEDUP_PREFIX, FULL, base_policy

RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def match_flags(gt: dict, detections: list[dict]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per validation image (in ``gt`` order): the scores of its counted detections, whether each matched a box at
    IoU 0.5, and its number of counted boxes, as pycocotools' ``evaluate`` decides them (all areas, 100 detections,
    every category pooled: the task has one)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    n_images = len(gt["images"])
    empty = np.zeros(0, np.float64)
    flags = [(empty, empty.astype(bool), 0) for _ in range(n_images)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if detections:
            evaluator = COCOeval(coco_gt, coco_gt.loadRes([dict(d) for d in detections]), "bbox")
            evaluator.params.iouThrs = np.array([0.5])
            evaluator.params.areaRng = [evaluator.params.areaRng[0]]
            evaluator.params.areaRngLbl = ["all"]
            evaluator.evaluate()
    counts = np.zeros(n_images, int)
    for ann in gt["annotations"]:
        counts[ann["image_id"] - 1] += 1
    if not detections:
        return [(empty, empty.astype(bool), int(c)) for c in counts]
    merged: dict[int, list] = defaultdict(lambda: [[], [], 0])
    for record in evaluator.evalImgs:
        if record is None:
            continue
        keep = ~np.asarray(record["dtIgnore"][0], bool)
        entry = merged[record["image_id"]]
        entry[0].append(np.asarray(record["dtScores"], np.float64)[keep])
        entry[1].append(np.asarray(record["dtMatches"][0] > 0, bool)[keep])
        entry[2] += int((~np.asarray(record["gtIgnore"], bool)).sum())
    for image_id, (scores, hits, boxes) in merged.items():
        flags[image_id - 1] = (np.concatenate(scores), np.concatenate(hits), boxes)
    for i, (scores, hits, boxes) in enumerate(flags):
        if not boxes and counts[i]:
            flags[i] = (scores, hits, int(counts[i]))
    return flags


def ap50(flags: list[tuple[np.ndarray, np.ndarray, int]], images: np.ndarray) -> float:
    """COCO's 101-point interpolated AP50 (percent) over ``images`` (positions; repeats count twice)."""
    scores = np.concatenate([flags[i][0] for i in images])
    hits = np.concatenate([flags[i][1] for i in images])
    boxes = sum(flags[i][2] for i in images)
    if boxes == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / boxes
    precision = tp / np.maximum(tp + fp, np.spacing(1))
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)], 0.0)
    return 100.0 * float(sampled.mean())


def video_ap50(flags: list, by_video: list[np.ndarray], videos: np.ndarray) -> float:
    """AP50 over the frames of the chosen ``videos`` (indices into ``by_video``; repeats count twice)."""
    return ap50(flags, np.concatenate([by_video[v] for v in videos]))


def bootstrap_se(flags: list, by_video: list[np.ndarray], draws: int, rng: np.random.Generator) -> float:
    """Standard deviation of AP50 over val sets of the same number of videos, drawn with replacement."""
    n = len(by_video)
    values = [video_ap50(flags, by_video, rng.integers(0, n, n)) for _ in range(draws)]
    return float(np.nanstd(values, ddof=1))


def spread_by_videos(
    members: list[list], by_video: list[np.ndarray], sizes: list[int], draws: int, rng: np.random.Generator
) -> dict[int, float]:
    """Mean over random draws of ``k`` validation videos (without replacement) of the variance across ``members``
    of their score on those videos. Each member is a list of flags whose AP50s are combined as
    ``member[0] - member[1]`` (a paired difference) or taken as is (one flags list)."""
    n = len(by_video)
    out = {}
    for k in sizes:
        variances = []
        for _ in range(draws):
            videos = rng.choice(n, size=k, replace=False)
            values = [
                video_ap50(m[0], by_video, videos) - (video_ap50(m[1], by_video, videos) if len(m) > 1 else 0.0)
                for m in members
            ]
            if not np.isnan(values).any():
                variances.append(np.var(values, ddof=1))
        out[k] = float(np.mean(variances))
    return out


def fit_components(variance_by_k: dict[int, float]) -> dict[str, float]:
    """Least-squares ``var(k) = a + b / k`` with ``a, b >= 0``: ``a`` stays however many videos are scored."""
    ks = np.array(sorted(variance_by_k), float)
    values = np.array([variance_by_k[int(k)] for k in ks])
    design = np.stack([np.ones_like(ks), 1.0 / ks], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, values, rcond=None)
    if a < 0:
        a, b = 0.0, float(np.dot(1.0 / ks, values) / np.dot(1.0 / ks, 1.0 / ks))
    elif b < 0:
        a, b = float(values.mean()), 0.0
    return {"a": float(a), "b": float(b)}


def predicted_sd(components: dict[str, float], videos: int) -> float:
    """The seed-to-seed standard deviation the fit predicts with ``videos`` validation videos."""
    return float(np.sqrt(components["a"] + components["b"] / videos))


def cell_detections(cell: Path, validation, cache: Path) -> list[dict]:
    """The cell's COCO detections on the validation frames, cached as JSON under ``cache``."""
    from edgeprune.detect.checkpoint_eval import coco_detections, detect_batches, read_params, restored_model

    path = cache / f"{cell.parent.parent.name}-{cell.name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    params = read_params(cell / "model")
    model = restored_model(params, cell / "model" / "model")
    per_image = detect_batches(model, validation.pixels, progress_enabled=False)
    detections = coco_detections(validation.dataset, per_image)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(detections))
    return detections


def seed_groups(names: list[str]) -> dict[str, dict[int, str]]:
    """Cell names grouped by everything but the seed: ``{"image-random-0.001": {0: name, 1: name, ...}}``."""
    groups: dict[str, dict[int, str]] = defaultdict(dict)
    for name in names:
        stem, seed = name.rsplit("-s", 1)
        groups[stem][int(seed)] = name
    return groups


def paired_with_random(groups: dict[str, dict[int, str]]) -> list[tuple[str, str, list[int]]]:
    """Each curated series with each image-level random series (``random``, ``dedup+random``) at the same fraction,
    and the seeds they share, where they share two or more: ``[("image-easy-0.005", "image-random-0.005", [0, 1, 2])]``.
    The verdict compares a policy with the best random series, so every one of them is a baseline here."""
    pairs = []
    for stem, seeds in sorted(groups.items()):
        _, policy, fraction = _stem_parts(stem)
        if policy == FULL or base_policy(policy)[0] == "random":
            continue
        for baseline in (f"image-random-{fraction}", f"image-{DEDUP_PREFIX}random-{fraction}"):
            common = sorted(set(seeds) & set(groups.get(baseline, {})))
            if len(common) >= 2:
                pairs.append((stem, baseline, common))
    return pairs


def _stem_parts(stem: str) -> tuple[str, str, str]:
    """``"object-dedup+hard-0.005"`` -> ``("object", "dedup+hard", "0.005")``; ``"full"`` -> ``("", "full", "")``."""
    if stem == "full":
        return "", "full", ""
    level, rest = stem.split("-", 1)
    policy, fraction = rest.rsplit("-", 1)
    return level, policy, fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--val", required=True)
    parser.add_argument("--val-split")
    parser.add_argument("--map-categories")
    parser.add_argument("--segments", type=Path, required=True, help="experiments/fod-a/fod_split.py's split.json")
    parser.add_argument("--cache", type=Path, required=True, help="where each cell's val detections are kept")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--cells", default="", help="comma-separated cell-name prefixes (default: every finished cell)")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json")
    args = parser.parse_args()
    try:
        check_apart(
            args.out.with_suffix(".json"),
            [("the scaling run", args.run), ("the validation set", args.val), ("the segments file", args.segments)],
        )
    except EdgepruneError as error:
        parser.error(str(error))
    from edgeprune.detect.checkpoint_eval import ValidationPixels, read_params

    val = read_dataset(args.val, split=args.val_split, map_categories=args.map_categories)
    starts = json.loads(args.segments.read_text())["segment_starts"]
    video_of = [bisect.bisect_right(starts, Path(img.file_name).stem) - 1 for img in val.images]
    videos = sorted(set(video_of))
    by_video = [np.flatnonzero(np.array(video_of) == v) for v in videos]
    cells = sorted(p.parents[1] for p in args.run.glob("cells/*/model/metrics.json"))
    prefixes = [c for c in args.cells.split(",") if c]
    cells = [c for c in cells if not prefixes or c.name.startswith(tuple(prefixes))]
    size = int(read_params(cells[0] / "model").task.model.input_size[0])
    validation = ValidationPixels.load(val, size)
    flags, rows = {}, []
    rng = np.random.default_rng(0)
    everything = np.arange(len(val))
    for cell in cells:
        started = time.perf_counter()
        detections = cell_detections(cell, validation, args.cache)
        flags[cell.name] = match_flags(validation.truth, detections)
        recorded = json.loads((cell / "model" / "metrics.json").read_text())["tf"]["mAP50"]
        row = {
            "cell": cell.name,
            "recorded_mAP50": recorded,
            "mAP50": round(ap50(flags[cell.name], everything), 2),
            "video_bootstrap_se": round(bootstrap_se(flags[cell.name], by_video, args.draws, rng), 2),
        }
        rows.append(row)
        print(json.dumps(row), f"({time.perf_counter() - started:.0f} s)", flush=True)
    sizes = [k for k in (5, 10, 20, 30) if k < len(videos)] + [len(videos)]
    groups = seed_groups(list(flags))
    spreads = {}
    for stem, seeds in sorted(groups.items()):
        if len(seeds) < 2:
            continue
        members = [[flags[seeds[s]]] for s in sorted(seeds)]
        spreads[stem] = _spread_entry(members, sorted(seeds), by_video, sizes, args.draws, rng)
    for curated, baseline, common in paired_with_random(groups):
        members = [[flags[groups[curated][s]], flags[groups[baseline][s]]] for s in common]
        spreads[f"{curated} minus {baseline}"] = _spread_entry(members, common, by_video, sizes, args.draws, rng)
    for label, keys in (
        ("pooled: pruned cells over seeds", [k for k in spreads if " minus " not in k and k != "full"]),
        ("pooled: curated minus random at the same seed", [k for k in spreads if " minus " in k]),
    ):
        if keys:
            pooled = {k: float(np.mean([spreads[key]["variance_by_videos"][str(k)] for key in keys])) for k in sizes}
            spreads[label] = {"groups": len(keys), **_summary(pooled, len(by_video))}
    document = {
        "what": __doc__.split("\n\n")[0].replace("\n", " "),
        "validation": {"images": len(val), "videos": len(videos)},
        "cells": rows,
        "spread_over_seeds": spreads,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    for stem, entry in spreads.items():
        print(stem, json.dumps({k: v for k, v in entry.items() if k != "variance_by_videos"}))


def _spread_entry(members, seeds, by_video, sizes, draws, rng) -> dict:
    return {"seeds": seeds, **_summary(spread_by_videos(members, by_video, sizes, draws, rng), len(by_video))}


def _summary(variance: dict[int, float], full: int) -> dict:
    components = fit_components(variance)
    return {
        "variance_by_videos": {str(k): round(v, 2) for k, v in variance.items()},
        "sd_now": round(float(np.sqrt(variance[full])), 2),
        "sd_any_val_size": round(float(np.sqrt(components["a"])), 2),
        "sd_at_2x_videos": round(predicted_sd(components, 2 * full), 2),
        "share_that_more_videos_remove": round(
            components["b"] / full / max(components["a"] + components["b"] / full, 1e-9), 2
        ),
    }


if __name__ == "__main__":
    main()
