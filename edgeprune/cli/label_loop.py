"""``edgeprune label-loop``: simulate the labelling loop and measure whether a selection strategy pays."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import fraction, options_from_args, positive_int
from .scaling import add_experiment_arguments, print_summary


def register(subparsers) -> None:
    """Add the ``label-loop`` subcommand."""
    p = subparsers.add_parser(
        "label-loop",
        help="does a selection strategy pay? simulate labelling rounds on a labelled set, AP50 vs random",
        description="Start every seed from a random labelled fraction of TRAIN; in each round, let each strategy "
        "(random, diversity, uncertainty, combined: the objectives of `edgeprune select`) pick --batch more TRAIN "
        "images, reveal their labels, retrain the detector for the same number of steps and score COCO AP50 on "
        "VAL. Resumable: rerun the same command to continue. Writes labeling.json, .csv, .md, .png and a verdict "
        "(combined against random at an equal label budget) into --out.",
    )
    add_experiment_arguments(p)
    loop = p.add_argument_group("the loop")
    loop.add_argument("--start", type=fraction, default=0.05, help="initial random labelled fraction of TRAIN (0.05)")
    loop.add_argument("--batch", type=positive_int, help="images picked per round (default: the start set's size)")
    loop.add_argument("--rounds", type=positive_int, default=2, help="labelling rounds (2)")
    loop.add_argument(
        "--strategies",
        default="random,diversity,uncertainty,combined",
        help="comma-separated: random, diversity, uncertainty, combined (diversity x uncertainty)",
    )
    loop.add_argument("--uncertainty", choices=("least", "margin", "entropy"), default="least", help="rule (least)")
    loop.add_argument("--threshold", type=fraction, default=0.95, help="near-copy cosine similarity, as select (0.95)")
    loop.add_argument(
        "--start-from",
        type=Path,
        metavar="SCALING_DIR",
        help="an `edgeprune scaling` --out with the same training settings: its random cells at --start are the "
        "start sets and their detectors (read in place, not retrained)",
    )
    p.set_defaults(run=run, interrupt_hint="rerun the same command to continue; finished cells are kept")


def run(args: argparse.Namespace) -> int:
    """Run the loop and print the table and verdict."""
    from ..scaling.labeling import STRATEGIES, LabelingOptions, run_labeling
    from ..scaling.labeling_results import table
    from ..scaling.plan import parse_choices

    options = options_from_args(
        LabelingOptions,
        args,
        strategies=parse_choices(args.strategies, STRATEGIES, "--strategies"),
        progress=not args.quiet,
    )
    print_summary("label-loop", run_labeling(args.train, args.val, options), table, args.out / "labeling.png")
    return 0
