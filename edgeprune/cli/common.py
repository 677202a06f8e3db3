"""Argument types shared by the subcommands; they reject bad values with argparse's own message."""

from __future__ import annotations

import argparse
from pathlib import Path


def fraction(text: str) -> float:
    """A float in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def positive_float(text: str) -> float:
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def int_list(text: str) -> list[int]:
    """Comma-separated positive integers, e.g. ``1,2,4``."""
    return [positive_int(part) for part in text.split(",") if part.strip()]


MAP_CATEGORIES_HELP = (
    "merge, rename or drop classes after reading: SRC=DST pairs ('car=vehicle,truck=vehicle', 'Platelets=' drops, "
    "'*=debris' maps every class not named) or a .yaml/.json file {SRC: DST or null}"
)
DATASET_HELP = "COCO .json (or dir), VOC root, TFRecord file/dir/glob, YOLO data.yaml (or dir), image folder"


def add_dataset_options(p: argparse.ArgumentParser) -> None:
    """The options that say how to read an input dataset (``--format``, ``--images``, ``--split``,
    ``--label-map``), shared by the commands that read one."""
    from ..datasets import INPUT_FORMATS

    p.add_argument("--format", choices=INPUT_FORMATS, help="input format (default: detected from the path)")
    p.add_argument("--images", type=Path, dest="images_dir", help="COCO images directory (default: beside the json)")
    p.add_argument(
        "--split",
        help="VOC: read only the ids of ImageSets/Main/SPLIT.txt; COCO: annotations/instances_SPLIT.json of the "
        "official layout (with its SPLIT/ images); YOLO: the data.yaml split (default train)",
    )
    p.add_argument("--label-map", type=Path, help="TFRecord: label_map.pbtxt (default: beside the records)")
    p.add_argument("--map-categories", metavar="SPEC", help=MAP_CATEGORIES_HELP)
    add_video_options(p)


def add_video_options(p) -> None:
    """How frames are sampled from a folder of videos (``pip install 'edgeprune[video]'``)."""
    videos = p.add_mutually_exclusive_group()
    videos.add_argument("--fps", type=positive_float, help="videos: frames sampled per second of video (default 1)")
    videos.add_argument("--every", type=positive_int, metavar="N", help="videos: every N-th frame instead")


def add_embedding_options(group) -> None:
    """The options that say how images are embedded (``--backbone`` or ``--embeddings``, ``--image-size``, ...),
    shared by the commands that compare images (``leaks``, ``split``, ``select``)."""
    group.add_argument("--backbone", default="selfsup", help="TF-Hub handle or SavedModel; selfsup (default)")
    group.add_argument("--embeddings", type=Path, metavar="FILE", help="bring your own (.npz/.parquet, keyed by name)")
    group.add_argument("--image-size", type=positive_int, help="backbone input size (default: the backbone's own)")
    group.add_argument("--preprocess", choices=("unit", "symmetric", "raw"), default="unit")
    group.add_argument("--batch-size", type=positive_int, default=64)
    group.add_argument("--cache-dir", type=Path, help="embedding/backbone cache")
    group.add_argument("--pretrain-steps", type=positive_int, help="selfsup: pretraining steps")
    add_runtime_option(group)


def add_runtime_option(group) -> None:
    """``--embed-runtime``: TensorFlow, or the backbone converted for LiteRT (float32 or int8)."""
    group.add_argument(
        "--embed-runtime",
        choices=("tf", "litert", "litert-int8"),
        default="tf",
        help="run the backbone in TensorFlow (default) or converted for LiteRT: float32, or int8 calibrated on the "
        "dataset and checked against tf's neighbourhoods (faster on CPU)",
    )


def options_from_args(options_class, args: argparse.Namespace, **given):
    """Build ``options_class`` (a dataclass, with parts) from the parsed arguments whose ``dest`` equals an option
    name, plus ``given`` for the ones the CLI derives (``keep`` from ``--prune``, ``progress`` from ``-q``)."""
    from ..curation.types import compose_options, option_fields

    values = {name: getattr(args, name) for name in option_fields(options_class) if hasattr(args, name)}
    return compose_options(options_class, {**values, **given})


def add_coverage_options(group) -> None:
    """The coverage policies' parameters, shared by ``curate`` and ``select``."""
    group.add_argument(
        "--probcover-delta",
        type=float,
        metavar="D",
        help="probcover: ball radius between unit embeddings (default: the largest whose balls stay 95%% pure "
        "over the clusters, the paper's rule)",
    )
    group.add_argument("--ccs-beta", type=float, default=0.1, help="ccs: hardest share dropped first (0.1)")
    group.add_argument("--ccs-strata", type=int, default=50, help="ccs: equal-width strata of the score (50)")
