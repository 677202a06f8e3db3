"""The embed stage on TensorFlow against LiteRT (float32 and int8), on the same frames and the same backbone.

For each input size and runtime, on a fresh embedding cache:
- the embed stage as ``curate`` runs it (``embed_for_curation``: read, decode, forward, cache), and the one-time
  conversion separately;
- its parts: decoding alone (the ``tf.data`` pipeline without a model) and the forward pass alone (on images
  decoded beforehand), so the stage is not mistaken for decode-bound or model-bound;
- LiteRT batched (one interpreter on every core) against parallel interpreters (one per core, each on part of a
  batch);
- the 10-NN agreement of each runtime's embeddings with TensorFlow's over every frame (int8 must keep >= 0.95; a
  curate run with litert-int8 refuses below that, so its stage time is measured here with the check off).

    python tools/bench_embed_runtime.py [--dataset data/fod_a --split train] [--images 16897] [--sizes 96,224]
        [--backbone DIR]  # default: the built-in backbone pretrained on the dataset (cached)

Writes ``tools/results/bench_embed_runtime/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402

from edgeprune.curation.embed import embed_for_curation  # noqa: E402
from edgeprune.curation.types import EmbeddingSettings  # noqa: E402
from edgeprune.datasets import read_dataset  # noqa: E402
from edgeprune.embed import litert  # noqa: E402
from edgeprune.embed.images import image_batches, image_source  # noqa: E402
from edgeprune.embed.litert import neighbour_agreement  # noqa: E402

RESULTS = REPO / "tools" / "results" / "bench_embed_runtime"
RUNTIMES = ("tf", "litert", "litert-int8")


def sample(dataset, count: int, seed: int = 0):
    """A seeded sample of ``count`` images (all of them when fewer)."""
    if count >= len(dataset):
        return dataset
    keep = np.zeros(len(dataset), bool)
    keep[np.random.default_rng(seed).choice(len(dataset), count, replace=False)] = True
    return dataset.subset(keep)


def decode_seconds(dataset, size: int) -> float:
    """The decoding pipeline alone: every image read, decoded at reduced DCT scale where the size allows, resized."""
    started = time.perf_counter()
    for _ in image_batches([image_source(img) for img in dataset.images], image_size=size, batch_size=64):
        pass
    return time.perf_counter() - started


def forward_seconds(backbone, images: np.ndarray, repeats: int = 3) -> float:
    """The best of ``repeats`` forward passes over ``images`` (decoded beforehand), in batches of 64."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        backbone.embed_padded(images, 64)
        best = min(best, time.perf_counter() - started)
    return best


def run_size(dataset, backbone_dir: str, size: int, work: Path) -> dict:
    """Every runtime at one input size: stage seconds, parts, and agreement with TensorFlow."""
    row: dict = {"image_size": size, "images": len(dataset)}
    row["decode_seconds"] = round(decode_seconds(dataset, size), 1)
    embeddings, backbones = {}, {}
    litert.MIN_AGREEMENT = 0.0  # measured below over every frame instead of refusing
    for runtime in RUNTIMES:
        timings: dict[str, float] = {}
        settings = EmbeddingSettings(
            backbone=backbone_dir, image_size=size, embed_runtime=runtime, cache_dir=work / f"{runtime}-{size}"
        )
        embedded = embed_for_curation(dataset, settings, timings, progress=False)
        embeddings[runtime], backbones[runtime] = embedded.images, embedded.backbone
        row[runtime] = {"embed_seconds": round(timings["embed"], 1)}
        if "convert" in timings:
            row[runtime]["convert_seconds"] = round(timings["convert"], 1)
        print(f"{size} px {runtime}: embed stage {timings['embed']:.1f} s", flush=True)
    decoded = np.concatenate(
        [b.numpy() for b in image_batches([image_source(img) for img in dataset.images[:512]], image_size=size)]
    )
    for runtime in RUNTIMES:
        seconds = forward_seconds(backbones[runtime], decoded)
        row[runtime]["forward_images_per_second"] = round(len(decoded) / seconds, 1)
        row[runtime]["stage_images_per_second"] = round(len(dataset) / row[runtime]["embed_seconds"], 1)
        if runtime != "tf":
            agreement = neighbour_agreement(embeddings["tf"], embeddings[runtime])
            row[runtime]["knn10_agreement_with_tf"] = round(agreement, 4)
            row[runtime]["stage_speedup_over_tf"] = round(row["tf"]["embed_seconds"] / row[runtime]["embed_seconds"], 2)
            converted = backbones[runtime]
            converted.interpreters = 2
            parallel = forward_seconds(converted, decoded)
            converted.interpreters = 1
            row[runtime]["forward_images_per_second_2_interpreters"] = round(len(decoded) / parallel, 1)
    row["decode_images_per_second"] = round(len(dataset) / row["decode_seconds"], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=REPO / "data" / "fod_a")
    parser.add_argument("--split", default="train")
    parser.add_argument("--images", type=int, default=16897)
    parser.add_argument("--sizes", default="96,224")
    parser.add_argument("--backbone", help="a backbone directory (default: the built-in one, pretrained on the data)")
    parser.add_argument("--name", default="fod_a")
    parser.add_argument("--pretrain-only", action="store_true", help="pretrain (cached) the default backbone and stop")
    args = parser.parse_args()
    dataset = sample(read_dataset(args.dataset, split=args.split), args.images)
    backbone = args.backbone
    if backbone is None:
        from edgeprune.embed.selfsup import pretrained_for_dataset

        backbone, _ = pretrained_for_dataset(dataset, cache_root=REPO / "data" / "cache", progress=False)
    if args.pretrain_only:
        return print(backbone)
    result = {"dataset": f"{args.dataset.name} ({args.split}, seeded sample)", "backbone": str(backbone)}
    result["cores"] = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as work:
        for size in (int(s) for s in args.sizes.split(",")):
            result[f"{size}px"] = row = run_size(dataset, backbone, size, Path(work))
            print(json.dumps(row, indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{args.name}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
