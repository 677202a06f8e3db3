"""``edgeprune curate``: prune a detection dataset by distance to self-supervised prototypes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cluster import METHODS
from ..curation.objects import AGGREGATES, GROUPINGS
from ..curation.select import GLOBAL_POLICIES, POLICIES
from ..datasets import FORMATS
from ..datasets.files import IMAGE_MODES
from ..uris import path_or_uri
from .common import (
    DATASET_HELP,
    add_coverage_options,
    add_dataset_options,
    add_runtime_option,
    fraction,
    options_from_args,
    positive_int,
)


def register(subparsers) -> None:
    """Add the ``curate`` subcommand."""
    p = subparsers.add_parser(
        "curate",
        help="prune a dataset (COCO, VOC, TFRecord, YOLO, image folder) by prototype distance",
        description="Embed every image, cluster, score by distance to the nearest prototype and keep the easy or "
        "hard part. Writes the pruned dataset, scores.csv, summary.json and report.html into --out.",
    )
    p.add_argument("dataset", help=DATASET_HELP)
    p.add_argument(
        "--out", "-o", type=path_or_uri, required=True,
        help="output directory, written atomically (with --runner beam also an s3:// or gs:// URI)",
    )  # fmt: skip
    add_dataset_options(p)
    p.add_argument("--out-format", choices=FORMATS, help="output format (default: the input's)")

    _add_selection(p)
    _add_object_level(p)
    _add_embedding(p)
    _add_outputs(p)
    _add_scale_out(p)
    p.set_defaults(run=run)


def _add_selection(p: argparse.ArgumentParser) -> None:
    """How much to keep and which images: ``--keep``/``--prune``, ``--policy``, ``--groups``, the coverage
    policies' parameters, the scope."""
    sel = p.add_argument_group("selection")
    amount = sel.add_mutually_exclusive_group()
    amount.add_argument("--keep", type=fraction, help="fraction of images to keep, in (0, 1] (default 0.5)")
    amount.add_argument("--prune", type=float, help="fraction of images to prune, in [0, 1)")
    sel.add_argument(
        "--policy",
        choices=POLICIES,
        default="hard",
        help="hard: keep the farthest from prototypes (plenty of data); easy: keep the nearest "
        "(scarce data); random: seeded baseline; stratified: same share of each cluster, hard "
        "within; coreset: k-center greedy, the most diverse set; balanced: even box counts per "
        "category, hard within (long-tailed classes); typical (TypiClust), probcover (ProbCover), ccs "
        "(coverage-centric, over the prototype distance), zcore (ZCore): coverage policies for small "
        "budgets; diversity: select's k-center greedy, never a near-copy of a pick, every video (--groups) first; "
        "stride: every n-th image (of each --groups video) (default: hard)",
    )
    sel.add_argument(
        "--groups",
        type=Path,
        metavar="CSV",
        help="image,group rows (the video or clip of every image): the policy's picks are dealt round-robin over "
        "the groups, so no group gets a second image before every group has one (hard, easy, random and the "
        "coverage policies)",
    )
    add_coverage_options(sel)
    _add_amount_rules(sel)


def _add_amount_rules(sel) -> None:
    """How the kept amount is shared (``--exact``, per cluster or global), the clustering, the seed, the box
    checks and the category floor."""
    sel.add_argument(
        "--exact",
        action="store_true",
        help="keep exactly round(keep x N) images, shared across clusters in proportion (default: ceil(keep x n) "
        "per cluster, the reference rule, which over-keeps with many small clusters)",
    )
    scope = sel.add_mutually_exclusive_group()
    scope.add_argument(
        "--per-cluster",
        dest="per_cluster",
        action="store_true",
        default=True,
        help="apply the fraction within each cluster (default; the reference rule)",
    )
    scope.add_argument("--global", dest="per_cluster", action="store_false", help="rank all images together")
    sel.add_argument(
        "--method",
        default="kmeans",
        choices=sorted(METHODS),
        help="clustering method (default kmeans; fuzzy/possibilistic families: see README)",
    )
    sel.add_argument(
        "--clusters",
        "-k",
        default="10",
        help="number of clusters, or auto (Growing Neural Gas) / auto:silhouette (default 10)",
    )
    sel.add_argument("--seed", type=int, default=0, help="seed for clustering, random policy and pretraining")
    sel.add_argument(
        "--dedup",
        type=fraction,
        metavar="THRESHOLD",
        help="drop near-duplicate images (cosine similarity of centred embeddings >= THRESHOLD, e.g. 0.98) before "
        "pruning; the groups are listed in the report",
    )
    sel.add_argument(
        "--min-per-category",
        type=int,
        default=0,
        metavar="N",
        help="keep at least N boxes of every category (or all it has): images holding a short category are swapped "
        "in for the least wanted kept ones, so rare classes never vanish (default 0: off)",
    )
    sel.add_argument(
        "--drop-invalid-boxes",
        action="store_true",
        help="drop zero-area / out-of-image boxes instead of warning and keeping them",
    )


def _add_object_level(p: argparse.ArgumentParser) -> None:
    """``--level object``: crops of the boxes, their clustering and how their scores make an image's."""
    obj = p.add_argument_group("object level")
    obj.add_argument(
        "--level",
        choices=("image", "object"),
        default="image",
        help="image: one embedding per image (default); object: embed every box crop, score objects against "
        "object prototypes and aggregate to an image score",
    )
    obj.add_argument(
        "--object-clusters",
        choices=GROUPINGS,
        default="category",
        help="cluster crops per category (default; --clusters is then per category, capped by its crops) or jointly",
    )
    obj.add_argument(
        "--aggregate",
        choices=AGGREGATES,
        default="mean",
        help="image score from its objects: mean, max (hardest object), or sum-hard (summed excess over each "
        "cluster's median distance: many unusual objects) (default mean)",
    )
    obj.add_argument("--crop-padding", type=float, default=0.1, help="context around each box, x its size (0.1)")
    obj.add_argument("--min-crop-size", type=float, default=32.0, help="minimum crop side in pixels (32)")


def _add_embedding(p: argparse.ArgumentParser) -> None:
    """The backbone or the embeddings file, the input size, preprocessing and the cache."""
    emb = p.add_argument_group("embedding")
    emb.add_argument(
        "--backbone",
        default="selfsup",
        help="TF-Hub handle, URL or local SavedModel dir; 'selfsup' (default) pretrains edgeprune's "
        "own backbone on this dataset, offline, and caches it",
    )
    emb.add_argument(
        "--embeddings",
        type=Path,
        metavar="FILE",
        help="bring your own embeddings (.npz with keys/embeddings, or .parquet with key/embedding columns), keyed "
        "by image file name or id, '<image>#<box index>' at object level; no backbone is loaded",
    )
    emb.add_argument("--image-size", type=positive_int, help="backbone input size (default 224; selfsup: its own)")
    emb.add_argument(
        "--preprocess",
        choices=("unit", "symmetric", "raw"),
        default="unit",
        help="pixel scaling: unit [0,1] (TF Hub convention), symmetric [-1,1], raw [0,255]",
    )
    emb.add_argument(
        "--no-normalize",
        dest="normalize",
        action="store_false",
        help="do not L2-normalise embeddings (normalised, Euclidean orders like cosine)",
    )
    emb.add_argument(
        "--no-center",
        dest="center",
        action="store_false",
        help="do not subtract the mean embedding before normalising (centring is the default)",
    )
    emb.add_argument("--batch-size", type=positive_int, default=64, help="images per forward pass (default 64)")
    emb.add_argument(
        "--cache-dir", type=Path, help="embedding/backbone cache (default $EDGEPRUNE_CACHE or ~/.cache/edgeprune)"
    )
    emb.add_argument("--pretrain-steps", type=positive_int, help="selfsup: training steps (default: a few minutes)")
    add_runtime_option(emb)


def _add_outputs(p: argparse.ArgumentParser) -> None:
    """What is written beside the pruned dataset, and how images are placed."""
    out = p.add_argument_group("outputs")
    out.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    out.add_argument("--write-dropped", action="store_true", help="also write the dropped part to dropped/")
    out.add_argument(
        "--save-embeddings", action="store_true", help="also write embeddings.npz (the format --embeddings reads)"
    )
    out.add_argument(
        "--export-folders",
        choices=("prune", "clusters", "all"),
        help="reference-tool folders: prune_{i}_easy|hard/ and/or cluster_{i}/",
    )
    out.add_argument("--image-mode", choices=IMAGE_MODES, default="copy", help="how images are placed in outputs")
    out.add_argument(
        "--map-points",
        type=int,
        default=5000,
        metavar="N",
        help="images drawn in the report's embedding map (PCA + t-SNE; a random subsample above N; 0: no map)",
    )


def _add_scale_out(p: argparse.ArgumentParser) -> None:
    """``--runner beam`` and its options."""
    scale = p.add_argument_group("scale out (Apache Beam; pip install 'edgeprune[beam]')")
    scale.add_argument(
        "--runner",
        choices=("local", "beam"),
        default="local",
        help="local: this machine (default); beam: embed, score and copy as Apache Beam pipelines",
    )
    scale.add_argument(
        "--beam-options",
        metavar="FLAGS",
        help='Beam pipeline flags as one string, after =: --beam-options="--runner=DataflowRunner --project=P '
        '--region=R --temp_location=gs://B/tmp --sdk_container_image=IMAGE" (default: FnApiRunner, in-process)',
    )
    scale.add_argument(
        "--work-dir",
        metavar="PATH_OR_URI",
        help="beam: where the stages keep their outputs (a local path or gs://...); a rerun skips finished stages",
    )
    scale.add_argument(
        "--sample-per-cluster",
        type=positive_int,
        default=256,
        metavar="N",
        help="beam: k-means is fitted on a deterministic sample of about N images per cluster (default 256)",
    )


def run(args: argparse.Namespace) -> int:
    """Run curate from parsed arguments and print the one-screen summary."""
    from ..curation import CurateOptions
    from ..curation.run import curate
    from ..errors import EdgepruneError

    if args.prune is not None:
        if not 0.0 <= args.prune < 1.0:
            raise EdgepruneError(f"--prune must be in [0, 1), got {args.prune}")
        keep = 1.0 - args.prune
    else:
        keep = args.keep if args.keep is not None else 0.5
    options = options_from_args(CurateOptions, args, keep=keep, progress=not args.quiet)
    result = curate(args.dataset, options)
    whole = not args.per_cluster or (args.policy in GLOBAL_POLICIES and args.policy != "stratified")
    scope = "over --groups" if args.groups is not None else ("global" if whole else "per cluster")
    print(f"edgeprune curate: {args.dataset}")
    print(
        f"  images  {result.images_before:>7} -> {result.images_after:<7} "
        f"({result.images_after / result.images_before:.0%} kept, policy {args.policy}, {scope})"
    )
    print(f"  boxes   {result.boxes_before:>7} -> {result.boxes_after:<7}")
    print(f"  {args.method} with k={result.clusters}; backbone {result.backbone}")
    print(f"  embeddings: {result.embeddings_computed} computed, {result.embeddings_cached} from cache")
    if result.runner != "local":
        print(f"  runner: {result.runner} (work dir {args.work_dir})")
    for note in result.notes:
        print(f"  note: {note}")
    print("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items()))
    out = str(result.out).rstrip("/")
    print(f"  pruned dataset ({result.output_format}): {out}/pruned")
    print(f"  report: {out}/report.html")
    print(f"  scores: {out}/scores.csv")
    return 0
