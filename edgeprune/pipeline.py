"""``curate`` glue: read → embed (cached) → cluster → score → select → write, all into an atomic output dir."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_output_dir, check_output_dir
from .cluster import make_clusterer
from .cluster.autok import AUTO_CHOICES, choose_k, parse_k
from .datasets import check_boxes, read_dataset, write_dataset
from .dedup import duplicate_groups, duplicate_of
from .outputs import export_folders, write_scores
from .score import center, l2_normalize, prototype_scores, rank_in_cluster
from .select import check_keep, select

log = logging.getLogger(__name__)
SELFSUP = "selfsup"


@dataclass
class CurateOptions:
    """Every curate option; the CLI fills it from its arguments (keys equal the argument names)."""

    out: Path
    keep: float = 0.5
    policy: str = "hard"
    per_cluster: bool = True
    method: str = "kmeans"
    clusters: str = "10"
    seed: int = 0
    backbone: str = SELFSUP
    image_size: int | None = None
    preprocess: str = "unit"
    normalize: bool = True
    center: bool = True
    batch_size: int = 64
    cache_dir: Path | None = None
    format: str | None = None
    images_dir: Path | None = None
    split: str | None = None
    label_map: Path | None = None
    out_format: str | None = None
    overwrite: bool = False
    write_dropped: bool = False
    save_embeddings: bool = False
    export_folders: str | None = None
    image_mode: str = "copy"
    drop_invalid_boxes: bool = False
    pretrain_steps: int | None = None
    dedup: float | None = None
    progress: bool = True


@dataclass
class CurateResult:
    """What a curate run did, for the summary screen and ``summary.json``."""

    out: Path
    images_before: int
    images_after: int
    boxes_before: int
    boxes_after: int
    clusters: int
    output_format: str
    backbone: str
    embeddings_cached: int
    embeddings_computed: int
    invalid_boxes: int
    duplicates_dropped: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_clusters(spec: str | int, n_images: int) -> None:
    """Reject a bad ``--clusters`` value before any embedding work (auto values are resolved later)."""
    if str(spec).strip().lower() not in AUTO_CHOICES:
        parse_k(spec, n_images)


def resolve_backbone(options: CurateOptions, dataset, cache_dir: Path, timings: dict[str, float]):
    """Load the backbone the options name (the built-in self-supervised one, or any TF-Hub handle/SavedModel)."""
    from .embed import load_backbone

    handle, image_size = options.backbone, options.image_size
    if handle == SELFSUP:
        from .embed.selfsup import pretrained_for_dataset

        started = time.perf_counter()
        handle, trained_size = pretrained_for_dataset(
            dataset, cache_root=cache_dir, steps=options.pretrain_steps, seed=options.seed, progress=options.progress
        )
        timings["pretrain"] = time.perf_counter() - started
        image_size = image_size or trained_size
    elif image_size is None:
        from .embed.selfsup import read_backbone_meta

        image_size = read_backbone_meta(handle).get("image_size") if Path(handle).is_dir() else None
    return load_backbone(handle, image_size=image_size or 224, preprocess=options.preprocess)


def _cut(distances: np.ndarray, kept: np.ndarray, options: CurateOptions) -> tuple[float | None, str]:
    if options.per_cluster or options.policy in ("random", "stratified") or kept.all():
        return None, ""
    boundary = distances[kept].min() if options.policy == "hard" else distances[kept].max()
    return float(boundary), "global cut"


def curate(path: Path | str, options: CurateOptions) -> CurateResult:
    """Run the whole curation; returns what was done. Raises :class:`EdgepruneError` for user mistakes."""
    from .embed import default_cache_root, embed_dataset
    from .report.html import ReportData, write_report

    check_keep(options.keep)
    check_output_dir(options.out, overwrite=options.overwrite)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    dataset = read_dataset(
        path, format=options.format, images_dir=options.images_dir, split=options.split, label_map=options.label_map
    )
    n_invalid = check_boxes(dataset, drop=options.drop_invalid_boxes)
    check_clusters(options.clusters, len(dataset))
    timings["read"] = time.perf_counter() - started

    cache_dir = options.cache_dir or default_cache_root()
    backbone = resolve_backbone(options, dataset, cache_dir, timings)
    started = time.perf_counter()
    embeddings, cache_counts = embed_dataset(
        dataset, backbone, cache_root=cache_dir / "embeddings", batch_size=options.batch_size, progress=options.progress
    )
    timings["embed"] = time.perf_counter() - started

    started = time.perf_counter()
    features = center(embeddings) if options.center else embeddings
    features = l2_normalize(features) if options.normalize else features
    groups = duplicate_groups(features, options.dedup) if options.dedup is not None else []
    representative = duplicate_of(groups, len(dataset))
    candidates = representative < 0  # near-duplicates leave before clustering and selection
    k, k_reason = choose_k(options.clusters, features[candidates], random_state=options.seed)
    clusterer = make_clusterer(options.method, k, random_state=options.seed).fit(features[candidates])
    labels, distances = prototype_scores(features, clusterer.cluster_centers_)
    kept = np.zeros(len(dataset), bool)
    kept[candidates] = select(
        distances[candidates],
        labels[candidates],
        keep=options.keep,
        policy=options.policy,
        per_cluster=options.per_cluster,
        seed=options.seed,
    )
    ranks = np.full(len(dataset), -1, np.int64)
    ranks[candidates] = rank_in_cluster(distances[candidates], labels[candidates])
    timings["cluster+select"] = time.perf_counter() - started

    pruned = dataset.subset(kept)
    notes = [f"clusters: {k_reason}"]
    if getattr(clusterer, "collapsed_", False):
        notes.append(
            f"{options.method}: the prototypes collapsed onto each other (fuzzy c-means with m=2 in "
            f"{features.shape[1]} dimensions), so scores are distances to the data mean; kmeans or hcm avoid it"
        )
    if options.dedup is not None:
        notes.append(
            f"dedup: {len(groups)} groups of near-duplicates (cosine >= {options.dedup}), "
            f"{int((~candidates).sum())} images dropped before pruning"
        )
    if n_invalid:
        notes.append(f"{n_invalid} invalid boxes {'dropped' if options.drop_invalid_boxes else 'kept'}")
    started = time.perf_counter()
    with atomic_output_dir(options.out, overwrite=options.overwrite) as tmp:
        output_format = write_dataset(pruned, tmp / "pruned", format=options.out_format, image_mode=options.image_mode)
        if options.write_dropped:
            write_dataset(
                dataset.subset(~kept), tmp / "dropped", format=options.out_format, image_mode=options.image_mode
            )
        write_scores(tmp / "scores.csv", dataset, labels, distances, ranks, kept, representative)
        if options.save_embeddings:
            np.save(tmp / "embeddings.npy", embeddings)
        if options.export_folders:
            export_folders(
                tmp / "folders",
                dataset.subset(candidates),
                labels[candidates],
                ranks[candidates],
                keep=options.keep,
                which=options.export_folders,
                image_mode=options.image_mode,
            )
        settings = {
            "input": str(path),
            "format": dataset.format,
            "output format": output_format,
            "backbone": backbone.handle,
            "image size": backbone.image_size,
            "embedding dim": embeddings.shape[1],
            "centred": options.center,
            "L2 normalised": options.normalize,
            "method": options.method,
            "clusters": k,
            "policy": options.policy,
            "scope": "per cluster" if options.per_cluster else "global",
            "keep": options.keep,
            "seed": options.seed,
        }
        cut, cut_label = _cut(distances, kept, options)
        write_report(
            ReportData(
                f"edgeprune curate: {Path(str(path)).name}",
                settings,
                dataset,
                labels,
                distances,
                kept,
                cut,
                cut_label,
                notes,
                duplicate_groups=[[dataset.images[i].file_name for i in g] for g in groups],
            ),
            tmp / "report.html",
        )
        result = CurateResult(
            options.out,
            len(dataset),
            len(pruned),
            dataset.num_boxes(),
            pruned.num_boxes(),
            k,
            output_format,
            backbone.handle,
            cache_counts["cached"],
            cache_counts["computed"],
            n_invalid,
            int((~candidates).sum()),
            timings,
            notes,
        )
        timings["write"] = time.perf_counter() - started
        (tmp / "summary.json").write_text(json.dumps(asdict(result), default=str, indent=2))
    return result
