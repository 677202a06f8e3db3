"""Cut a FOD-A training split into two video-disjoint halves: one to pretrain a detector on, one to prune.

Pruning experiments that train every detector from a weak initialisation measure mostly the training seed (see
``pruning_noise.py``). Practitioners fine-tune a detector they already have. This tool models that: whole videos
(segments of ``experiments/fod-a/fod_split.py``) are drawn in a seeded order into ``pretrain`` until it holds about
``--share`` of the frames; the rest is the ``pool`` the pruning policies choose from. Both come from the training
split, so neither touches the held-out validation videos, and ``--within tune_train`` keeps the tune slice out of both.

    python experiments/pruning-fod/fod_pretrain_split.py data/fod_a --split train_half \
        --segments experiments/fod-a/results/split/split.json --out experiments/pruning-fod/results/finetune/split

writes ``pretrain.txt``, ``pool.txt`` and ``split.json`` (the segments of each side). Copy the ``.txt`` files into
``<dataset>/ImageSets/Main/`` to read them with ``--split``.
"""

from __future__ import annotations

import argparse
import bisect
import json
from pathlib import Path

import numpy as np


def split_by_segment(frames: list[str], starts: list[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """``(pretrain, pool)`` frame ids: whole segments, drawn in a seeded order, go to pretrain until it holds
    ``share`` of the frames."""
    segment = [bisect.bisect_right(starts, frame) - 1 for frame in frames]
    segments = sorted(set(segment))
    order = np.random.default_rng(seed).permutation(len(segments))
    sizes = {s: segment.count(s) for s in segments}
    chosen, total = set(), 0
    for index in order:
        if total >= share * len(frames):
            break
        chosen.add(segments[index])
        total += sizes[segments[index]]
    pretrain = [f for f, s in zip(frames, segment) if s in chosen]
    pool = [f for f, s in zip(frames, segment) if s not in chosen]
    return pretrain, pool


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="FOD-A root (ImageSets/Main/<split>.txt)")
    parser.add_argument("--split", default="train_half")
    parser.add_argument(
        "--within", default="tune_train", help="keep only frames also in this split (tune_train: not the tune slice)"
    )
    parser.add_argument("--segments", type=Path, required=True, help="experiments/fod-a/fod_split.py's split.json")
    parser.add_argument("--share", type=float, default=0.5, help="share of the frames that go to pretrain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    lists = args.root / "ImageSets" / "Main"
    allowed = set((lists / f"{args.within}.txt").read_text().split())
    frames = [f for f in (lists / f"{args.split}.txt").read_text().split() if f in allowed]
    starts = json.loads(args.segments.read_text())["segment_starts"]
    pretrain, pool = split_by_segment(frames, starts, args.share, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pretrain.txt").write_text("\n".join(pretrain) + "\n")
    (args.out / "pool.txt").write_text("\n".join(pool) + "\n")

    def segments_of(ids: list[str]) -> list[str]:
        return sorted({starts[bisect.bisect_right(starts, f) - 1] for f in ids})

    summary = {
        "settings": {"split": args.split, "within": args.within, "share": args.share, "seed": args.seed},
        "frames": {"pretrain": len(pretrain), "pool": len(pool)},
        "segments": {"pretrain": segments_of(pretrain), "pool": segments_of(pool)},
    }
    (args.out / "split.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["frames"]), len(summary["segments"]["pretrain"]), len(summary["segments"]["pool"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
