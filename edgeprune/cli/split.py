"""``edgeprune split``: train/val/test splits without near-copies across them, stratified by category."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..datasets import FORMATS
from ..datasets.files import IMAGE_MODES
from ..errors import EdgepruneError
from .common import DATASET_HELP, add_dataset_options, add_embedding_options, fraction, options_from_args


def _ratios(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated shares such as 0.8,0.1,0.1, got {text!r}")


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(subparsers) -> None:
    """Add the ``split`` subcommand."""
    p = subparsers.add_parser(
        "split",
        help="split a dataset into train/val/test with no near-copy across splits, stratified by category",
        description="Group images (a --groups group is never cut; identical files and near-copies at --threshold "
        "join one group, but two groups merge only where many of their images are near-copies), assign the groups "
        "to splits by iterative stratification over categories, drop the few images that are still near-copies "
        "across splits (--out/dropped.csv), write each split under --out/<name>/ and check the result with the "
        "leak search of `edgeprune leaks` (--out/leak_check/). Deterministic for a --seed.",
    )
    p.add_argument("dataset", help=DATASET_HELP)
    p.add_argument("--out", "-o", type=Path, required=True, help="output directory (written atomically)")
    p.add_argument("--ratios", type=_ratios, default=[0.8, 0.1, 0.1], help="shares of the splits (0.8,0.1,0.1)")
    p.add_argument("--names", type=_names, help="split names (default train,val,test; train,val for two)")
    p.add_argument("--groups", type=Path, metavar="CSV", help="image,group rows (e.g. a video id) kept together")
    p.add_argument("--threshold", type=fraction, default=0.95, help="cosine similarity of a near-copy (0.95)")
    p.add_argument("--seed", type=int, default=0, help="breaks ties in the assignment (and seeds selfsup)")
    p.add_argument("--out-format", choices=FORMATS, help="write the splits in this format (default: the input's)")
    p.add_argument("--image-mode", choices=IMAGE_MODES, default="copy", help="copy, hardlink or symlink images")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    emb = p.add_argument_group("embedding (as for curate and leaks)")
    add_embedding_options(emb)
    add_dataset_options(p.add_argument_group("data"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Split and print the one-screen summary."""
    from ..splits import SplitOptions, split_dataset

    if not args.ratios:
        raise EdgepruneError("--ratios needs at least two shares, e.g. 0.8,0.1,0.1")
    result = split_dataset(args.dataset, options_from_args(SplitOptions, args, progress=not args.quiet))
    for line in result.lines():
        print(line)
    print(f"  splits ({result.output_format}): {', '.join(str(result.out / name) for name in result.images)}")
    print(f"  assignment: {result.out / 'split.csv'}")
    print(f"  leak check: {result.out / 'leak_check' / 'report.html'}")
    return 0
