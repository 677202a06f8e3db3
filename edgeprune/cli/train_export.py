"""``edgeprune train-export``: fine-tune an SSD-style MobileNetV2 detector and export TFLite for Android/Coral."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..datasets import FORMATS
from .common import MAP_CATEGORIES_HELP, positive_int


def register(subparsers) -> None:
    """Add the ``train-export`` subcommand."""
    p = subparsers.add_parser(
        "train-export",
        help="train an SSD MobileNetV2 FPN-lite detector, evaluate COCO mAP, export TFLite",
        description="Fine-tune Model Garden's SSD-style MobileNetV2 + FPN-lite detector on TRAIN, evaluate COCO "
        "mAP on VAL with pycocotools, export SavedModel and TFLite fp32/fp16/int8 with metadata and "
        "labelmap.txt, and check TFLite-vs-TF parity. Writes metrics.json into --out.",
    )
    p.add_argument("train", help="training dataset (any format edgeprune reads)")
    p.add_argument("--val", required=True, help="validation dataset (any format)")
    p.add_argument("--out", "-o", type=Path, required=True, help="output directory (must not exist)")
    p.add_argument(
        "--config",
        help="experiment YAML (default configs/ssdlite_mobilenetv2_fpnlite_320.yaml; "
        "quick: configs/ssdlite_mobilenetv2_fpnlite_256_w050.yaml)",
    )
    p.add_argument("--steps", type=positive_int, default=1000, help="training steps (default 1000)")
    p.add_argument("--batch-size", type=positive_int, help="global batch size (default: the config's, 8)")
    p.add_argument("--image-size", type=positive_int, help="input size; must be divisible by 2^max_level")
    p.add_argument("--width", type=float, help="MobileNetV2 width multiplier (default: the config's)")
    p.add_argument("--init-backbone", help="edgeprune pretrain directory or a checkpoint of a MobileNetV2 backbone")
    p.add_argument(
        "--init-detector",
        help="start from the whole detector of an earlier train-export output (same classes and architecture), "
        "as when fine-tuning the shipped model on new data",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run for the same --out")
    p.add_argument("--quantize", default="fp32,fp16,int8", help="TFLite variants (default fp32,fp16,int8)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any ExperimentConfig key, e.g. --set task.model.head.num_convs=2",
    )
    p.add_argument("--calibration-steps", type=positive_int, default=100, help="int8 calibration images")
    p.add_argument("--parity-tolerance", type=float, default=1.0, help="max |mAP(fp32) - mAP(TF)| in points")
    p.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints")
    p.add_argument("--train-split", help="VOC split of TRAIN (e.g. train)")
    p.add_argument("--val-split", help="VOC split of VAL (e.g. val)")
    p.add_argument("--format", dest="train_format", choices=FORMATS, help="TRAIN format (default: detected)")
    p.add_argument("--val-format", choices=FORMATS, help="VAL format (default: detected)")
    p.add_argument("--map-categories", metavar="SPEC", help=MAP_CATEGORIES_HELP + "; applied to TRAIN and VAL")
    p.set_defaults(run=run, interrupt_hint="rerun the same command with --resume to continue from the last checkpoint")


def run(args: argparse.Namespace) -> int:
    """Run train-export and print the metrics table."""

    from ..detect.export import parse_quantizations
    from ..detect.pipeline import TrainExportOptions, train_export

    quantize = parse_quantizations(args.quantize)
    options = TrainExportOptions(
        out=args.out,
        config=args.config,
        steps=args.steps,
        batch_size=args.batch_size,
        image_size=args.image_size,
        width=args.width,
        init_backbone=args.init_backbone,
        init_detector=args.init_detector,
        resume=args.resume,
        quantize=quantize,
        overrides=args.overrides,
        calibration_steps=args.calibration_steps,
        parity_tolerance=args.parity_tolerance,
        checkpoint_every=args.checkpoint_every,
        train_format=args.train_format,
        val_format=args.val_format,
        train_split=args.train_split,
        val_split=args.val_split,
        map_categories=args.map_categories,
    )
    metrics = train_export(args.train, args.val, options)
    print(f"edgeprune train-export: {args.steps} steps, classes {', '.join(metrics['labels'])}")
    print(f"  {'model':10s} {'mAP':>6s} {'mAP50':>6s} {'size MB':>8s}  per-class AP")
    tf_row = metrics["tf"]
    print(f"  {'TF':10s} {tf_row['mAP']:6.1f} {tf_row['mAP50']:6.1f} {'':>8s}  {tf_row['per_class']}")
    for name, row in metrics["tflite"].items():
        print(f"  {name:10s} {row['mAP']:6.1f} {row['mAP50']:6.1f} {row['size_bytes'] / 1e6:8.2f}  {row['per_class']}")
    if "edgetpu" in metrics:
        edgetpu, floats = metrics["edgetpu"], metrics["int8_non_integer_ops"]
        print(f"  int8: ops with float tensors: {', '.join(floats) or 'none'}")
        print(f"  Edge TPU: {edgetpu['mapped']} of {edgetpu['total']} ops would map ({edgetpu['first_unmapped']})")
        print(f"  Coral: {edgetpu['compiler']}")
    print(f"  outputs: {args.out}  (metrics.json, model_*.tflite, labelmap.txt, saved_model/, model/ checkpoints)")
    return 0
