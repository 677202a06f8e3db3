"""What each pruning policy's training subset covers, next to the AP50 it trained to: the FOD-A videos (segments of
``experiments/fod-a/fod_split.py``) its frames come from, the original debris classes among its boxes, and how large
the boxes are. It reads a finished ``edgeprune scaling`` run and trains nothing: the question is why a policy wins or
loses.

    python experiments/pruning-fod/pruning_coverage.py data/pruning_fod --data data/fod_a --split train_half \
        --segments experiments/fod-a/results/split/split.json --out experiments/pruning-fod/results/scratch/coverage
"""

from __future__ import annotations

import argparse
import bisect
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgeprune.datasets import read_dataset


def segment_of(frame_ids: list[str], starts: list[str]) -> list[int]:
    """The segment index of each frame id (ids and starts are zero-padded frame numbers in recording order)."""
    return [bisect.bisect_right(starts, frame) - 1 for frame in frame_ids]


def cell_coverage(kept: list[str], frames: dict[str, tuple[int, set[str], float]]) -> dict[str, float]:
    """Distinct segments and classes of ``kept``, and the median box side relative to the frame."""
    segments = {frames[name][0] for name in kept}
    classes = set().union(*(frames[name][1] for name in kept))
    sides = [frames[name][2] for name in kept if frames[name][2] > 0]
    return {
        "segments": len(segments),
        "classes": len(classes),
        "median_box_side": round(float(np.median(sides)), 3) if sides else 0.0,
    }


def frame_table(data: str, split: str, starts: list[str]) -> dict[str, tuple[int, set[str], float]]:
    """file name -> (segment, original class names, mean relative box side sqrt(area / frame area))."""
    dataset = read_dataset(data, split=split)
    names = dataset.category_names
    ids = [Path(img.file_name).stem for img in dataset.images]
    table = {}
    for img, segment in zip(dataset.images, segment_of(ids, starts)):
        sides = [np.sqrt(box.area / (img.width * img.height)) for box in img.boxes]
        table[img.file_name] = (segment, {names[b.category_id] for b in img.boxes}, float(np.mean(sides or [0.0])))
    return table


def finished_cells(run: Path) -> list[dict]:
    """Every pruned cell of ``run`` with a recorded AP50: its cell fields and kept file names."""
    cells = []
    for selection_file in sorted(run.glob("cells/*/selection.json")):
        metrics_file = selection_file.parent / "model" / "metrics.json"
        selection = json.loads(selection_file.read_text())
        if not metrics_file.exists() or selection["cell"]["policy"] == "full":
            continue
        ap50 = json.loads(metrics_file.read_text())["tf"]["mAP50"]
        cells.append(
            {**selection["cell"], "name": selection_file.parent.name, "mAP50": ap50, "kept": selection["kept"]}
        )
    return cells


def summarise(rows: list[dict]) -> list[dict]:
    """Means over seeds per (level, policy, fraction)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["fraction"], row["level"], row["policy"])].append(row)
    summary = []
    for (fraction, level, policy), members in sorted(groups.items()):
        mean = {
            k: round(float(np.mean([m[k] for m in members])), 2)
            for k in ("segments", "classes", "median_box_side", "mAP50")
        }
        summary.append({"fraction": fraction, "level": level, "policy": policy, "seeds": len(members), **mean})
    return summary


def markdown(summary: list[dict], rows: list[dict], train_segments: int, correlation: float) -> str:
    """The summary table, then the per-cell correlation of segments covered with AP50."""
    lines = [
        "# What each policy's subset covers",
        "",
        f"Training frames come from {train_segments} video segments (`experiments/fod-a/fod_split.py`). "
        "Means over seeds; `classes`: original FOD-A classes among the subset's boxes "
        "(the task maps them all to debris).",
        "",
        "| kept | policy | seeds | segments covered | classes | median box side | AP50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        policy = s["policy"] if s["level"] == "image" else f"{s['policy']} ({s['level']})"
        lines.append(
            f"| {s['fraction'] * 100:g}% | {policy} | {s['seeds']} | {s['segments']:.1f} | {s['classes']:.1f} "
            f"| {s['median_box_side']:.3f} | {s['mAP50']:.1f} |"
        )
    lines += [
        "",
        f"Over all {len(rows)} pruned cells, the rank correlation (Spearman) of segments covered with AP50, "
        f"within each fraction: {correlation:+.2f}.",
        "",
    ]
    return "\n".join(lines)


def within_fraction_spearman(rows: list[dict]) -> float:
    """Spearman correlation of segments covered with AP50, ranks taken within each fraction, then pooled."""
    seg_ranks, ap_ranks = [], []
    for fraction in sorted({r["fraction"] for r in rows}):
        members = [r for r in rows if r["fraction"] == fraction]
        if len(members) < 2:
            continue
        for key, out in (("segments", seg_ranks), ("mAP50", ap_ranks)):
            values = np.array([m[key] for m in members], float)
            ranks = np.argsort(np.argsort(values)).astype(float)
            out.extend((ranks - ranks.mean()) / max(len(members) - 1, 1))
    return float(np.corrcoef(seg_ranks, ap_ranks)[0, 1]) if len(seg_ranks) > 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="an edgeprune scaling directory")
    parser.add_argument("--data", required=True, help="the training dataset, with its original classes")
    parser.add_argument("--split", default="train_half")
    parser.add_argument("--segments", type=Path, required=True, help="experiments/fod-a/fod_split.py's split.json")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    starts = json.loads(args.segments.read_text())["segment_starts"]
    frames = frame_table(args.data, args.split, starts)
    rows = []
    for cell in finished_cells(args.run):
        kept = cell.pop("kept")
        rows.append({**cell, "frames": len(kept), **cell_coverage(kept, frames)})
    summary = summarise(rows)
    train_segments = len({segment for segment, _, _ in frames.values()})
    correlation = within_fraction_spearman(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "train_segments": train_segments,
        "spearman_segments_ap50": correlation,
        "summary": summary,
        "cells": rows,
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(summary, rows, train_segments, correlation))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
