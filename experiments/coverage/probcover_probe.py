"""What ProbCover's radius does to the frames it picks from the pool, without training anything.

For each radius δ (the purity rule's over k clusters, and a grid), ProbCover's first ``budget`` picks are made as
the grid's cells make them (the pool's embeddings from the run's backbone, centred and L2-normalised), and the probe
reports how many of the pool's videos they come from, how many pool frames their balls cover, and the mean ball
size. Uniform random frames at the same budget are the reference. It reads the cached embeddings of a ``scaling``
run's backbone; choosing δ still needs the tune set's AP50 (this only narrows the candidates).

    python probcover_probe.py ../../data/fod_a --split cov_pool --groups split/clips.csv \\
        --backbone ../../data/cache/backbones/9ef57416411172a3e8b3 --cache-dir ../../data/cache \\
        --out results/probcover_probe.json
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from edgeprune.cluster import fit_prototypes
from edgeprune.curation.coverage import probcover_order, purity_delta
from edgeprune.curation.embed import embed_for_curation
from edgeprune.curation.features import scoring_features
from edgeprune.curation.types import EmbeddingSettings
from edgeprune.datasets import read_dataset

BLOCK = 2048
MAX_MEAN_BALL = 4000  # larger balls make the graph too big to hold (n x mean ball entries)


def ball_sizes(features: np.ndarray, delta: float) -> np.ndarray:
    """How many pool frames lie within ``delta`` of each frame, without building the graph."""
    cutoff = 1.0 - delta**2 / 2
    return np.concatenate(
        [(features[s : s + BLOCK] @ features.T >= cutoff - 1e-6).sum(axis=1) for s in range(0, len(features), BLOCK)]
    )


def reach(features: np.ndarray, picks: np.ndarray, delta: float) -> int:
    """Pool frames within ``delta`` of at least one pick."""
    return int(((features @ features[picks].T) >= 1.0 - delta**2 / 2 - 1e-6).any(axis=1).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--split", required=True)
    parser.add_argument("--groups", type=Path, required=True, help="image,group CSV: the video of every frame")
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--budgets", default="39,79,157")
    parser.add_argument("--deltas", default="0.07,0.1,0.12,0.15,0.2,0.3,0.5")
    parser.add_argument("--clusters", default="30", help="k of the purity rule's k-means")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    dataset = read_dataset(args.root, split=args.split)
    settings = EmbeddingSettings(backbone=args.backbone, cache_dir=args.cache_dir)
    features = scoring_features(embed_for_curation(dataset, settings, {}, progress=False).images)
    video = {row["image"]: row["group"] for row in csv.DictReader(args.groups.open())}
    videos = np.array([video[img.file_name] for img in dataset.images])
    budgets = [int(b) for b in args.budgets.split(",")]
    deltas = {f"grid {d}": float(d) for d in args.deltas.split(",")}
    for k in (int(c) for c in args.clusters.split(",")):
        labels = fit_prototypes("kmeans", k, features, random_state=0, metric="cosine").labels_
        deltas[f"purity, k={k}"] = purity_delta(features, labels)
    rng = np.random.default_rng(0)
    rows = [
        {"series": "uniform", "budget": b, "videos": len(set(videos[rng.permutation(len(features))[:b]]))}
        for b in budgets
    ]
    for name, delta in sorted(deltas.items(), key=lambda item: item[1]):
        sizes = ball_sizes(features, delta)
        row = {"series": f"probcover ({name})", "delta": round(delta, 3), "mean_ball": round(float(sizes.mean()), 1)}
        if sizes.mean() > MAX_MEAN_BALL:
            rows.append({**row, "skipped": "balls too large to hold the graph"})
            continue
        order = probcover_order(features, delta, seed=0)
        for b in budgets:
            picks = order[:b]
            covered = reach(features, picks, delta)
            rows.append({**row, "budget": b, "videos": len(set(videos[picks])), "covered": covered})
        print(json.dumps(rows[-1]), flush=True)
    result = {"pool_frames": len(features), "pool_videos": len(set(videos)), "rows": rows}
    args.out.write_text(json.dumps(result, indent=2))
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
