"""``edgeprune scaling``: measure detector mAP against kept fraction for each pruning policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cluster import METHODS
from ..curation.objects import AGGREGATES, GROUPINGS
from ..datasets import FORMATS
from .common import MAP_CATEGORIES_HELP, add_coverage_options, options_from_args, positive_int


def register(subparsers) -> None:
    """Add the ``scaling`` subcommand."""
    p = subparsers.add_parser(
        "scaling",
        help="prove the pruning: mAP vs kept fraction per policy, same training budget",
        description="For every kept fraction, policy and seed: curate TRAIN, train the detector for the same number "
        "of steps, evaluate COCO mAP on VAL. Resumable: rerun the same command to continue. Writes scaling.json, "
        "scaling.csv, scaling.png and a verdict into --out.",
    )
    add_experiment_arguments(p)
    p.add_argument("--fractions", default="0.25,0.5,0.75,1.0", help="kept fractions; 1.0 adds the full-data runs")
    p.add_argument(
        "--policies",
        default="random,easy,hard,stratified",
        help="comma-separated selection policies: random (within clusters), uniform (uniform random over images), "
        "stride (every n-th frame of each --groups video), easy, hard, stratified, coreset, balanced, typical, "
        "probcover, ccs, zcore, dedup+P (near-duplicates removed first, then P, at the same kept count) and P+videos "
        "(P's picks dealt round-robin over the --groups videos)",
    )
    p.add_argument("--level", default="image", help="image, object, or image,object for both")
    cur = p.add_argument_group("curation (shared by every cell)")
    cur.add_argument("--method", default="kmeans", choices=sorted(METHODS))
    cur.add_argument("--clusters", "-k", default="10")
    cur.add_argument("--global", dest="per_cluster", action="store_false", help="rank all images together")
    cur.add_argument("--object-clusters", choices=GROUPINGS, default="category")
    cur.add_argument("--aggregate", choices=AGGREGATES, default="mean")
    cur.add_argument("--min-per-category", type=int, default=0, metavar="N")
    cur.add_argument(
        "--groups", type=Path, metavar="CSV", help="image,group rows of TRAIN (videos): for stride and P+videos"
    )
    cur.add_argument(
        "--dedup",
        type=float,
        default=0.95,
        metavar="THRESHOLD",
        help="cosine similarity at which the dedup+P policies call two images near-duplicates (0.95)",
    )
    add_coverage_options(cur)
    p.set_defaults(run=run, interrupt_hint="rerun the same command to continue; finished cells are kept")


def add_experiment_arguments(p: argparse.ArgumentParser) -> None:
    """The options every cell of an experiment shares (the detector, its budget, the backbone, the data), as
    :class:`edgeprune.scaling.run.ExperimentSettings` holds them; ``scaling`` and ``label-loop`` both take them."""
    p.add_argument("train", help="training dataset (any format edgeprune reads)")
    p.add_argument("--val", required=True, help="validation dataset (any format)")
    p.add_argument("--out", "-o", type=Path, required=True, help="experiment directory (created, or continued)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 (3)")
    p.add_argument("--steps", type=positive_int, default=1000, help="training steps for every cell (1000)")
    p.add_argument(
        "--config",
        default="ssdlite_mobilenetv2_fpnlite_256_w050.yaml",
        help="experiment YAML (default: the quick 256 px / 0.5-width config)",
    )
    p.add_argument("--batch-size", type=positive_int, help="global batch size (default: the config's)")
    p.add_argument("--image-size", type=positive_int, help="detector input size (default: the config's)")
    p.add_argument("--width", type=float, help="MobileNetV2 width multiplier (default: the config's)")
    p.add_argument(
        "--init-backbone",
        help="initialise every detector's MobileNetV2 from this edgeprune backbone dir or checkpoint; 'selfsup': the "
        "self-supervised backbone curation uses (its width must match --width)",
    )
    p.add_argument(
        "--init-detector",
        help="start every cell from the whole detector of a train-export output (or a scaling cell's model/): "
        "the fine-tuning setting, where a shipped detector meets new data",
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--export",
        action="store_true",
        help="also export every cell's SavedModel and TFLite models (fp32, fp16, int8); by default a cell's mAP "
        "comes from its checkpoint, evaluated in process and batched",
    )
    p.add_argument("--backbone", default="selfsup", help="curation backbone: TF-Hub handle or SavedModel; selfsup")
    p.add_argument("--pretrain-steps", type=positive_int, help="selfsup: pretraining steps")
    p.add_argument("--cache-dir", type=Path, help="embedding/backbone cache")
    data = p.add_argument_group("data")
    data.add_argument("--train-split", help="VOC split of TRAIN (e.g. train)")
    data.add_argument("--val-split", help="VOC split of VAL (e.g. val)")
    data.add_argument("--format", dest="train_format", choices=FORMATS)
    data.add_argument("--val-format", choices=FORMATS)
    data.add_argument("--map-categories", metavar="SPEC", help=MAP_CATEGORIES_HELP + "; applied to TRAIN and VAL")


def run(args: argparse.Namespace) -> int:
    """Run the experiment and print the table and verdict."""
    from ..scaling.plan import LEVELS, SCALING_POLICIES, parse_choices, parse_fractions
    from ..scaling.results import table
    from ..scaling.run import ScalingOptions, run_scaling

    options = options_from_args(
        ScalingOptions,
        args,
        fractions=parse_fractions(args.fractions),
        policies=parse_choices(args.policies, SCALING_POLICIES, "--policies"),
        levels=parse_choices(args.level, LEVELS, "--level"),
        progress=not args.quiet,
    )
    print_summary("scaling", run_scaling(args.train, args.val, options), table, args.out / "scaling.png")
    return 0


def print_summary(command: str, document: dict, table, plot: Path) -> None:
    """An experiment's summary screen: finished cells, the table (``table(summary)``), the verdict, the plot."""
    print(f"edgeprune {command}: {len(document['cells'])} finished cells in {plot.parent}")
    print(table(document["summary"]))
    print(f"verdict: {document['verdict']['text']}")
    print(f"plot: {plot}")
