"""``edgeprune convert``: any dataset format to any other, with the same readers and writers as ``curate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..datasets import FORMATS
from ..datasets.files import IMAGE_MODES
from .common import DATASET_HELP, add_dataset_options


def register(subparsers) -> None:
    """Add the ``convert`` subcommand."""
    p = subparsers.add_parser(
        "convert",
        help="convert a dataset between COCO, VOC, TFRecord, YOLO and image folders",
        description="Read SRC in any format edgeprune reads and write it to --out in --out-format, with no "
        "embedding or clustering. The output directory is written atomically.",
    )
    p.add_argument("source", help=DATASET_HELP)
    p.add_argument("--out", "-o", type=Path, required=True, help="output directory (written atomically)")
    p.add_argument("--out-format", choices=FORMATS, required=True, help="output format")
    add_dataset_options(p)
    p.add_argument("--image-mode", choices=IMAGE_MODES, default="copy", help="how images are placed in the output")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read, write, print a one-line summary."""
    from ..atomic import atomic_output_dir, check_output_dir
    from ..datasets import read_with_options, write_dataset
    from ..datasets.tfrecord import renumbered_label_ids
    from ..input_guard import check_apart, dataset_inputs

    check_output_dir(args.out, overwrite=args.overwrite)
    named = [("the dataset", args.source), ("--images", args.images_dir), ("--label-map", args.label_map)]
    check_apart(args.out, named)
    dataset = read_with_options(args.source, args)
    check_apart(args.out, dataset_inputs(dataset))
    with atomic_output_dir(args.out, overwrite=args.overwrite) as tmp:
        write_dataset(dataset, tmp, format=args.out_format, image_mode=args.image_mode)
    print(
        f"edgeprune convert: {dataset.format} -> {args.out_format}: {len(dataset)} images, {dataset.num_boxes()} "
        f"boxes, {len(dataset.categories)} categories -> {args.out}"
    )
    renumbered = renumbered_label_ids(dataset, args.out_format)
    if renumbered:
        print("  TFRecord label ids are 1..N: " + ", ".join(f"{o}->{n}" for o, n in renumbered.items()))
    return 0
