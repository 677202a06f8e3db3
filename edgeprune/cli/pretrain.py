"""``edgeprune pretrain``: train edgeprune's own self-supervised backbone on a dataset, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..datasets import FORMATS
from .common import positive_int


def register(subparsers) -> None:
    """Add the ``pretrain`` subcommand."""
    p = subparsers.add_parser(
        "pretrain",
        help="train a self-supervised MobileNetV2 backbone (SimCLR) on your images",
        description="Train a MobileNetV2 encoder from random init with SimCLR's contrastive loss on a dataset's "
        "images (or object crops) and save it as a TF-Hub-compatible SavedModel usable as "
        "`curate --backbone DIR` and `train-export --init-backbone DIR`. Resumes if interrupted.",
    )
    p.add_argument("dataset", help="any dataset edgeprune reads (COCO, VOC, TFRecord, image folder)")
    p.add_argument("--out", "-o", type=Path, required=True, help="backbone directory to write")
    p.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    p.add_argument("--split", help="VOC: train on the ids of ImageSets/Main/SPLIT.txt only")
    p.add_argument("--steps", type=positive_int, default=300, help="training steps (default 300)")
    p.add_argument("--epochs", type=positive_int, help="train for this many passes over the data instead")
    p.add_argument("--image-size", type=int, default=96, help="input size: 96, 128, 160 or 224 (default 96)")
    p.add_argument("--width", type=float, default=0.35, help="MobileNetV2 width multiplier, 0.35..1.0")
    p.add_argument("--batch-size", type=int, default=64, help="images per step (2 views each; default 64)")
    p.add_argument("--temperature", type=float, default=0.2, help="NT-Xent temperature (default 0.2)")
    p.add_argument(
        "--min-crop-scale",
        type=float,
        default=0.5,
        help="smallest random-crop area fraction of a view (default 0.5; SimCLR's ImageNet value is 0.08)",
    )
    p.add_argument(
        "--no-flip",
        dest="flip",
        action="store_false",
        help="no horizontal flips in the views, for data whose meaning changes when mirrored (digits, text, signs)",
    )
    p.add_argument("--crops", action="store_true", help="train on object crops from the boxes")
    p.add_argument(
        "--recalibrate-bn",
        dest="batch_norm_images",
        type=int,
        default=0,
        metavar="N",
        help="after training, set batch norm's statistics from N clean images (default 0: off; spreads the "
        "embeddings, see docs/commands.md)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=run, interrupt_hint="rerun the same command to continue from the last checkpoint")


def run(args: argparse.Namespace) -> int:
    """Pretrain and print where the backbone is and how the loss went."""
    import math

    from ..datasets import read_dataset
    from ..embed.selfsup import PretrainConfig, count_training_images, pretrain
    from ..input_guard import check_apart, dataset_inputs

    check_apart(args.out, [("the dataset", args.dataset)])
    dataset = read_dataset(args.dataset, format=args.format, split=args.split)
    check_apart(args.out, dataset_inputs(dataset))
    config = PretrainConfig(
        steps=args.steps,
        image_size=args.image_size,
        width=args.width,
        batch_size=args.batch_size,
        seed=args.seed,
        crops=args.crops,
        temperature=args.temperature,
        min_crop_scale=args.min_crop_scale,
        flip=args.flip,
        batch_norm_images=args.batch_norm_images,
    )
    config.validate()
    if args.epochs:
        n = count_training_images(dataset, config)
        config.steps = max(1, math.ceil(args.epochs * n / config.batch_size))
    result = pretrain(dataset, args.out, config, overwrite=args.overwrite, progress=not args.quiet)
    head, tail = result.losses[: max(1, len(result.losses) // 10)], result.losses[-max(1, len(result.losses) // 10) :]
    print(f"edgeprune pretrain: {len(dataset)} images, {config.steps} steps in {result.seconds:.0f}s")
    print(f"  loss {sum(head) / len(head):.3f} (first 10%) -> {sum(tail) / len(tail):.3f} (last 10%)")
    print(f"  backbone: {result.out}  ({result.embedding_dim}-d, {config.image_size}px)")
    print(f"  use it:   edgeprune curate DATA --backbone {result.out} --image-size {config.image_size}")
    return 0
