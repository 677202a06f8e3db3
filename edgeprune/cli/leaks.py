"""``edgeprune leaks``: near-copies across train/val/test, which inflate validation scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..datasets import INPUT_FORMATS
from ..datasets.files import IMAGE_MODES
from .common import DATASET_HELP, add_embedding_options, add_video_options, fraction, options_from_args, positive_int


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(subparsers) -> None:
    """Add the ``leaks`` subcommand."""
    p = subparsers.add_parser(
        "leaks",
        help="find images of val/test with a near-copy in train (leaky splits)",
        description="Flag every image of a later split whose nearest neighbour in an earlier split has cosine "
        "similarity >= --threshold (identical file bytes always). Writes leaks.csv, report.html and summary.json "
        "into --out. Exit code 1 with --fail-on-leaks when any are found.",
    )
    p.add_argument("dataset", help=DATASET_HELP)
    p.add_argument("--out", "-o", type=Path, required=True, help="output directory (written atomically)")
    which = p.add_argument_group("which splits")
    which.add_argument(
        "--splits",
        type=_split_list,
        help="splits of DATASET, earliest first, e.g. train,val,test (VOC ImageSets, YOLO data.yaml, COCO "
        "annotations/instances_<split>.json)",
    )
    which.add_argument("--split", help="with --against: the split of DATASET to check")
    which.add_argument("--against", type=Path, help="another dataset holding the earlier split")
    which.add_argument("--against-split", help="with --against: its split")
    p.add_argument("--threshold", type=fraction, default=0.95, help="cosine similarity that counts as a copy (0.95)")
    p.add_argument("--fail-on-leaks", action="store_true", help="exit 1 when any image is flagged (for CI gates)")
    p.add_argument("--write-clean", type=Path, metavar="DIR", help="write the later split(s) without leaked images")
    p.add_argument("--image-mode", choices=IMAGE_MODES, default="copy", help="how --write-clean places images")
    p.add_argument("--overwrite", action="store_true", help="replace existing --out / --write-clean")
    p.add_argument("--max-pairs", type=positive_int, default=200, help="pairs shown in the report (200)")
    emb = p.add_argument_group("embedding (as for curate)")
    add_embedding_options(emb)
    emb.add_argument("--seed", type=int, default=0)
    data = p.add_argument_group("data")
    data.add_argument("--format", choices=INPUT_FORMATS, help="input format of DATASET (default: detected)")
    data.add_argument("--images", type=Path, dest="images_dir", help="COCO images directory")
    data.add_argument("--label-map", type=Path, help="TFRecord label_map.pbtxt")
    add_video_options(data)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the comparison and print the one-screen summary; 1 with --fail-on-leaks when any are found."""
    from ..leaks import LeakOptions, find_leaks

    result = find_leaks(args.dataset, options_from_args(LeakOptions, args, progress=not args.quiet))
    print(f"edgeprune leaks: {args.dataset} (cosine >= {result.threshold:g}, backbone {result.backbone})")
    for line in result.lines():
        print(f"  {line}")
    for leak in result.leaks[:5]:
        kind = "exact copy" if leak.exact else f"cosine {leak.similarity:.3f}"
        print(f"    {leak.split}/{leak.image} ~ {leak.nearest_split}/{leak.nearest} ({kind})")
    if result.clean is not None:
        print(f"  clean split(s): {result.clean}")
    print(f"  report: {result.out / 'report.html'}")
    print(f"  pairs: {result.out / 'leaks.csv'}")
    return 1 if args.fail_on_leaks and result.flagged else 0
