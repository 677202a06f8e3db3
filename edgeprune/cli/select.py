"""``edgeprune select``: choose the next images to label from an unlabelled pool."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..datasets.files import IMAGE_MODES
from .common import (
    DATASET_HELP,
    add_coverage_options,
    add_dataset_options,
    add_embedding_options,
    fraction,
    options_from_args,
    positive_int,
)


def register(subparsers) -> None:
    """Add the ``select`` subcommand."""
    p = subparsers.add_parser(
        "select",
        help="choose the next images to label from a pool (diversity, prototype distance, model uncertainty)",
        description="Pick --budget images of POOL (any dataset, usually an unlabelled image folder) greedily by the "
        "product of objective scores raised to their strengths: diversity (k-center greedy from the labelled set "
        "and the picks so far), prototype distance (hard or easy) and, with --model, the detector's uncertainty and "
        "class balance. Near-copies of the labelled set or of a pick are never picked. Writes to_label/, "
        "selection.csv, report.html, summary.json and, with --model, pre_annotations/ into --out.",
    )
    p.add_argument("pool", help=DATASET_HELP)
    p.add_argument("--budget", type=positive_int, required=True, help="how many images to pick")
    p.add_argument("--out", "-o", type=Path, required=True, help="output directory (written atomically)")
    p.add_argument("--labeled", type=Path, metavar="DATASET", help="the set already labelled (any format)")
    p.add_argument("--labeled-split", help="the split of --labeled to read")
    pol = p.add_argument_group("policy")
    pol.add_argument(
        "--policy",
        choices=("objectives", "typical", "probcover", "ccs", "zcore"),
        default="objectives",
        help="objectives: the greedy product of the objectives below (default); typical (TypiClust), probcover "
        "(ProbCover), ccs (coverage-centric over the prototype distance), zcore (ZCore): a coverage policy",
    )
    pol.add_argument(
        "--groups",
        type=Path,
        metavar="CSV",
        help="image,group rows (the video or clip of every pool image): no group gets a second pick before every "
        "group has one",
    )
    add_coverage_options(pol)
    obj = p.add_argument_group("objectives (strength 0 turns one off)")
    obj.add_argument("--diversity", type=float, default=1.0, help="strength of diversity (1)")
    obj.add_argument("--prototype", choices=("hard", "easy"), default="hard", help="prefer far (hard) or near")
    obj.add_argument("--prototype-strength", type=float, default=0.0, help="strength of prototype distance (0)")
    obj.add_argument("--clusters", "-k", type=positive_int, default=10, help="k-means prototypes (10)")
    obj.add_argument("--model", type=Path, metavar="DIR", help="a train-export output: uncertainty, pre-annotations")
    obj.add_argument("--uncertainty", choices=("least", "margin", "entropy"), default="least", help="rule (least)")
    obj.add_argument("--uncertainty-strength", type=float, default=1.0, help="with --model (1)")
    obj.add_argument("--balance-strength", type=float, default=0.0, help="rare predicted classes first (0)")
    obj.add_argument("--min-score", type=fraction, default=0.3, help="pre-annotations keep detections >= this")
    p.add_argument("--threshold", type=fraction, default=0.95, help="cosine similarity of a near-copy (0.95)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-mode", choices=IMAGE_MODES, default="copy", help="copy, hardlink or symlink to_label/")
    p.add_argument("--map-points", type=int, default=5000, help="images in the report's embedding map (0: none)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    emb = p.add_argument_group("embedding (as for curate)")
    add_embedding_options(emb)
    add_dataset_options(p.add_argument_group("pool data"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Pick and print the one-screen summary."""
    from ..next_batch import SelectOptions, select_next

    result = select_next(args.pool, options_from_args(SelectOptions, args, progress=not args.quiet))
    for line in result.lines():
        print(line)
    print(f"  to label: {result.out / 'to_label'}")
    print(f"  scores and pick order: {result.out / 'selection.csv'}")
    print(f"  report: {result.out / 'report.html'}")
    if args.model is not None:
        print(f"  pre-annotations (COCO, YOLO, Label Studio): {result.out / 'pre_annotations'}")
    return 0
