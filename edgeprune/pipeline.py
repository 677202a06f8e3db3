"""``curate`` glue: read → embed (cached) → cluster → score → select → write, all into an atomic output dir."""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_output_dir, check_output_dir
from .cluster import fit_prototypes
from .cluster.autok import AUTO_CHOICES, choose_k, parse_k
from .datasets import check_boxes, read_with_options, write_dataset
from .datasets.tfrecord import renumbered_label_ids
from .dedup import duplicate_groups, duplicate_of
from .errors import EdgepruneError
from .input_guard import check_apart, dataset_inputs
from .objects import AGGREGATES, GROUPINGS, aggregate, box_counts, cluster_objects
from .outputs import export_folders, write_object_scores, write_scores
from .score import center, l2_normalize, prototype_scores, rank_in_cluster
from .select import POLICIES, check_keep, cover_categories, exact_count, preference, select

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
    map_categories: str | None = None  # merge/rename/drop classes after reading (datasets/mapping.py)
    out_format: str | None = None
    overwrite: bool = False
    write_dropped: bool = False
    save_embeddings: bool = False
    export_folders: str | None = None
    image_mode: str = "copy"
    drop_invalid_boxes: bool = False
    pretrain_steps: int | None = None
    dedup: float | None = None
    level: str = "image"
    object_clusters: str = "category"
    aggregate: str = "mean"
    crop_padding: float = 0.1
    min_crop_size: float = 32.0
    min_per_category: int = 0
    exact: bool = False
    embeddings: Path | None = None  # bring your own: .npz or .parquet keyed by file name (see embed/external.py)
    map_points: int = 5000  # images in the report's embedding map (subsampled above; 0: no map)
    runner: str = "local"  # local, or beam (edgeprune/beam: the stages as Apache Beam pipelines)
    beam_options: str | None = None  # Beam pipeline flags, e.g. "--runner=DataflowRunner --project=p"
    work_dir: str | None = None  # beam: stage outputs, a local path or a Beam filesystem URI; reruns resume
    sample_per_cluster: int = 256  # beam: k-means sample size per centroid
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
    label_ids: dict[int, int] = field(default_factory=dict)  # category id -> TFRecord label id, where renumbered
    runner: str = "local"


def check_clusters(spec: str | int, n_images: int) -> None:
    """Reject a bad ``--clusters`` value before any embedding work (auto values are resolved later)."""
    if str(spec).strip().lower() not in AUTO_CHOICES:
        parse_k(spec, n_images)


def check_options(options: CurateOptions) -> None:
    """Reject inconsistent level/aggregation settings before any work."""
    if options.level not in ("image", "object"):
        raise EdgepruneError(f"--level must be image or object, got {options.level!r}")
    if options.aggregate not in AGGREGATES:
        raise EdgepruneError(f"--aggregate must be one of {', '.join(AGGREGATES)}, got {options.aggregate!r}")
    if options.object_clusters not in GROUPINGS:
        raise EdgepruneError(
            f"--object-clusters must be one of {', '.join(GROUPINGS)}, got {options.object_clusters!r}"
        )
    if options.crop_padding < 0 or options.min_crop_size < 0:
        raise EdgepruneError("--crop-padding and --min-crop-size must not be negative")
    if options.policy not in POLICIES:
        raise EdgepruneError(f"unknown policy {options.policy!r}; choose one of {', '.join(POLICIES)}")
    if options.policy == "coreset" and options.level == "object":
        raise EdgepruneError("--policy coreset covers the image embedding space; use it with --level image")
    if options.min_per_category < 0:
        raise EdgepruneError(f"--min-per-category must not be negative, got {options.min_per_category}")
    check_runner(options)


def check_runner(options: CurateOptions) -> None:
    """``--runner beam``: Beam installed, a work dir, valid ``--beam-options``, an image-level run on a backbone."""
    if options.runner not in ("local", "beam"):
        raise EdgepruneError(f"--runner must be local or beam, got {options.runner!r}")
    if options.runner == "local":
        if options.beam_options or options.work_dir:
            raise EdgepruneError("--beam-options and --work-dir apply to --runner beam only")
        return
    from .beam.options import pipeline_options

    if not options.work_dir:
        raise EdgepruneError("--runner beam needs --work-dir (a local path or a Beam filesystem URI such as gs://...)")
    if options.level == "object":
        raise EdgepruneError("--level object runs on one machine only; use --runner local")
    if options.embeddings is not None:
        raise EdgepruneError("--embeddings reads one file on one machine; use --runner local")
    if options.sample_per_cluster < 1:
        raise EdgepruneError(f"--sample-per-cluster must be at least 1, got {options.sample_per_cluster}")
    pipeline_options(options.beam_options)


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
    return load_backbone(handle, image_size=image_size, preprocess=options.preprocess)


def _cut(distances: np.ndarray, kept: np.ndarray, options: CurateOptions) -> tuple[float | None, str]:
    if options.per_cluster or options.policy in ("random", "stratified") or kept.all():
        return None, ""
    boundary = distances[kept].min() if options.policy == "hard" else distances[kept].max()
    return float(boundary), "global cut"


@dataclass
class Scored:
    """The scoring stage's output for one dataset: a score (distance) and a cluster per image, and the context
    selection, outputs and the report need."""

    embeddings: np.ndarray  # image embeddings (empty at object level without --dedup)
    labels: np.ndarray  # cluster per image
    distances: np.ndarray  # score per image: distance to the nearest prototype (aggregated at object level)
    candidates: np.ndarray  # False for near-duplicates dropped before clustering
    representative: np.ndarray  # the image each duplicate duplicates, -1 otherwise
    groups: list[list[int]]
    k: int
    backbone: object
    cache_counts: dict[str, int]
    notes: list[str]
    crops: object = None  # object level: the Crops table
    objects: object = None  # object level: the ObjectClusters
    crop_embeddings: np.ndarray | None = None  # object level: one row per crop


@dataclass
class _Clustering:
    """One level's clustering result, before it is packed into :class:`Scored`."""

    labels: np.ndarray
    distances: np.ndarray
    k: int
    notes: list[str]
    crops: object = None
    objects: object = None


def score_metric(options: CurateOptions) -> str:
    """Cosine distance to normalised prototypes (spherical k-means) on normalised embeddings, Euclidean otherwise."""
    return "cosine" if options.normalize else "euclidean"


def scoring_features(embeddings: np.ndarray, options: CurateOptions) -> np.ndarray:
    """The embeddings as clustering and scoring see them: centred and L2-normalised unless the options say not."""
    features = center(embeddings) if options.center else embeddings
    return l2_normalize(features) if options.normalize else features


def embed_for_curation(dataset, options: CurateOptions, timings: dict[str, float]):
    """``(backbone, image embeddings, crops, crop embeddings, cache counts)``; from ``--embeddings`` the backbone is
    None and never loaded. Image embeddings are empty at object level without ``--dedup``, crops at image level."""
    from .embed import default_cache_root, embed_dataset
    from .embed.crops import crop_regions, embed_crops

    need_images = options.level == "image" or options.dedup is not None  # dedup compares whole images
    crops = None
    if options.level == "object":
        crops = crop_regions(dataset, padding=options.crop_padding, min_size=options.min_crop_size)
    images = np.zeros((len(dataset), 0), np.float32)
    crop_vectors = None
    if options.embeddings is not None:
        started = time.perf_counter()
        images, crop_vectors = _external_embeddings(dataset, options, crops, need_images)
        timings["embed"] = time.perf_counter() - started
        return None, images, crops, crop_vectors, {"cached": 0, "computed": 0, "loaded": len(images)}
    cache_dir = options.cache_dir or default_cache_root()
    backbone = resolve_backbone(options, dataset, cache_dir, timings)
    started = time.perf_counter()
    counts = {"cached": 0, "computed": 0}
    if need_images:
        images, counts = embed_dataset(
            dataset, backbone, cache_root=cache_dir / "embeddings", batch_size=options.batch_size,
            progress=options.progress,
        )  # fmt: skip
    if crops is not None:
        crop_vectors, counts = embed_crops(
            dataset, crops, backbone, cache_root=cache_dir / "crop-embeddings", batch_size=options.batch_size,
            progress=options.progress,
        )  # fmt: skip
    timings["embed"] = time.perf_counter() - started
    return backbone, images, crops, crop_vectors, counts


def _external_embeddings(dataset, options: CurateOptions, crops, need_images: bool):
    """Rows of ``options.embeddings`` for the images (if needed) and the crops (at object level), in order."""
    from .embed.external import align

    boxes = list(zip(crops.image_index.tolist(), crops.box_index.tolist())) if crops is not None else []
    vectors = align(options.embeddings, [(dataset, dataset.images)], images=need_images, boxes=boxes)
    n_images = len(dataset) if need_images else 0
    images = vectors[:n_images] if need_images else np.zeros((len(dataset), 0), np.float32)
    return images, vectors[n_images:] if crops is not None else None


def score_dataset(dataset, options: CurateOptions, timings: dict[str, float] | None = None) -> Scored:
    """Embed (cached) or load ``--embeddings``, deduplicate, cluster and score every image, at image or object
    level."""
    timings = {} if timings is None else timings
    backbone, embeddings, crops, crop_vectors, counts = embed_for_curation(dataset, options, timings)
    groups = duplicate_groups(scoring_features(embeddings, options), options.dedup) if options.dedup is not None else []
    representative = duplicate_of(groups, len(dataset))
    candidates = representative < 0  # near-duplicates leave before clustering and selection
    if options.level == "object":
        clustering = _cluster_objects(dataset, options, crops, crop_vectors, candidates, timings)
    else:
        clustering = _cluster_images(scoring_features(embeddings, options), candidates, options, timings)
    notes = clustering.notes
    if options.embeddings is not None:
        notes.append(f"embeddings read from {options.embeddings}; no backbone was loaded")
    if options.dedup is not None:
        notes.append(
            f"dedup: {len(groups)} groups of near-duplicates (cosine >= {options.dedup}), "
            f"{int((~candidates).sum())} images dropped before pruning"
        )
    return Scored(
        embeddings,
        clustering.labels,
        clustering.distances,
        candidates,
        representative,
        groups,
        clustering.k,
        backbone,
        counts,
        notes,
        clustering.crops,
        clustering.objects,
        crop_vectors,
    )


def _cluster_images(features: np.ndarray, candidates: np.ndarray, options: CurateOptions, timings) -> _Clustering:
    started = time.perf_counter()
    k, k_reason = choose_k(options.clusters, features[candidates], random_state=options.seed)
    metric = score_metric(options)
    clusterer = fit_prototypes(options.method, k, features[candidates], random_state=options.seed, metric=metric)
    labels, distances = prototype_scores(features, clusterer.cluster_centers_, metric)
    notes = [f"clusters: {k_reason}"]
    if getattr(clusterer, "collapsed_", False):
        notes.append(
            f"{options.method}: the prototypes collapsed onto each other (fuzzy c-means with m=2 in "
            f"{features.shape[1]} dimensions), so scores are distances to the data mean; kmeans or hcm avoid it"
        )
    timings["cluster"] = time.perf_counter() - started
    return _Clustering(labels, distances, k, notes)


def _cluster_objects(dataset, options: CurateOptions, crops, crop_embeddings, candidates, timings) -> _Clustering:
    started = time.perf_counter()
    objects = cluster_objects(
        scoring_features(crop_embeddings, options),
        crops.category_id,
        by=options.object_clusters,
        clusters=options.clusters,
        method=options.method,
        seed=options.seed,
        fit=candidates[crops.image_index],
        category_names=dataset.category_names,
        metric=score_metric(options),
    )
    distances, labels = aggregate(crops.image_index, objects.labels, objects.distances, len(dataset), options.aggregate)
    notes = [
        f"object level: {len(crops)} crops of {dataset.num_boxes()} boxes, clustered by "
        f"{options.object_clusters}; image score = {options.aggregate} of its objects",
        *(f"clusters: {reason}" for reason in objects.reasons),
    ]
    timings["cluster"] = time.perf_counter() - started
    return _Clustering(labels, distances, len(objects.names), notes, crops, objects)


def backbone_name(backbone, embeddings: Path | None) -> str:
    """The backbone's handle, or the embeddings file read instead of one."""
    return backbone.handle if backbone is not None else f"embeddings file {embeddings}"


def save_embeddings(path: Path, dataset, scored: Scored) -> Path:
    """``--save-embeddings``: the image rows (keyed by file name) and, at object level, the box rows (keyed
    ``<file name>#<box index>``), in the format ``--embeddings`` reads."""
    from .embed.external import box_keys, image_keys, write_embeddings_file

    keys, rows = [], []
    if scored.embeddings.shape[1]:
        keys += image_keys(dataset)
        rows.append(scored.embeddings)
    if scored.crops is not None and scored.crop_embeddings is not None:
        keys += box_keys(dataset, scored.crops.image_index, scored.crops.box_index)
        rows.append(scored.crop_embeddings)
    return write_embeddings_file(path, keys, np.concatenate(rows) if rows else np.zeros((0, 1), np.float32))


def choose(
    dataset, scored: Scored, options: CurateOptions, *, fill_budget: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The keep-mask for ``options.keep``/``policy`` over scored images, with the category floor applied; and notes.

    After ``--dedup`` the budget is still ``round(keep * N)`` of the *input*, and the policy chooses among the images
    dedup left. If they are fewer than the budget, all of them are kept (dedup wins), or with ``fill_budget`` (for
    experiments that compare policies at equal counts) the rest comes from the dropped near-duplicates, most wanted
    by the policy first.
    """
    candidates = scored.candidates
    n = len(dataset)
    counts, names = box_counts(dataset)
    deduplicated = not candidates.all()
    budget = exact_count(n, options.keep) if options.exact or deduplicated else None
    kept = np.zeros(n, bool)
    notes = []
    kept[candidates] = select(
        scored.distances[candidates],
        scored.labels[candidates],
        keep=options.keep,
        policy=options.policy,
        per_cluster=options.per_cluster,
        seed=options.seed,
        count=budget,
        features=scoring_features(scored.embeddings, options)[candidates] if options.policy == "coreset" else None,
        box_counts=counts[candidates],
    )
    wanted = preference(scored.distances, options.policy, options.seed)
    if budget is not None and kept.sum() < budget:
        left = int(candidates.sum())
        if fill_budget:
            refill = [i for i in np.argsort(-wanted, kind="stable") if not candidates[i]][: budget - left]
            kept[refill] = True
            action = f"{len(refill)} near-duplicates kept back to fill it, most wanted by {options.policy!r} first"
        else:
            action = "all of them are kept"
        notes.append(
            f"dedup left {left} images, fewer than the {budget} that --keep {options.keep} asks of {n}: {action}"
        )
    if options.min_per_category:
        floor_counts = counts.copy()
        floor_counts[~candidates & ~kept] = 0
        kept, swapped = cover_categories(kept, floor_counts, options.min_per_category, wanted)
        short = [
            name
            for name, c, t in zip(names, counts[kept].sum(0), counts.sum(0))
            if c < min(t, options.min_per_category)
        ]
        notes.append(
            f"--min-per-category {options.min_per_category}: {swapped} images swapped in to keep every category's "
            f"boxes" + (f"; still short: {', '.join(short)}" if short else "")
        )
    share = kept.mean() if n else 0.0
    if abs(share - options.keep) > 0.01 and not deduplicated:
        notes.append(
            f"kept {100 * share:.1f}% of the images, {100 * options.keep:.1f}% asked: the per-cluster rule keeps "
            "ceil(keep x n) of every cluster; --exact keeps exactly round(keep x N)"
        )
    return kept, notes


def _embedding_map(scored: Scored, kept: np.ndarray, options: CurateOptions, timings) -> bytes | None:
    """The report's t-SNE map of the image embeddings (None at object level without image embeddings)."""
    if not options.map_points or not scored.embeddings.shape[1] or len(scored.embeddings) < 2:
        return None
    from .report.embedding_map import embedding_map_png

    started = time.perf_counter()
    links = [(int(g[0]), int(member)) for g in scored.groups for member in g[1:]]
    png = embedding_map_png(
        scoring_features(scored.embeddings, options),
        scored.labels,
        kept,
        links=links,
        max_points=options.map_points,
        seed=options.seed,
    )
    timings["map"] = time.perf_counter() - started
    return png


def _group_similarity(scored: Scored, groups: list, options: CurateOptions) -> list[list[float]]:
    """Each near-duplicate group's cosine similarities to its representative (the first member, 1.0 itself)."""
    if not groups or scored.embeddings.shape[1] == 0:
        return []
    features = scoring_features(scored.embeddings, options)
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return [(unit[np.asarray(g)] @ unit[g[0]]).astype(float).round(6).tolist() for g in groups]


def curate_inputs(path: Path | str, options: CurateOptions) -> list[tuple[str, Path | str | None]]:
    """The paths a curate run reads (or keeps, as its caches), named as the options name them."""
    from .embed.cache import default_cache_root

    work_dir = options.work_dir if options.work_dir and "://" not in options.work_dir else None
    return [
        ("the dataset", path),
        ("--images", options.images_dir),
        ("--label-map", options.label_map),
        ("--embeddings", options.embeddings),
        ("--map-categories", options.map_categories if Path(str(options.map_categories)).is_file() else None),
        ("--cache-dir", options.cache_dir or default_cache_root()),
        ("--work-dir", work_dir),
    ]


def curate(path: Path | str, options: CurateOptions) -> CurateResult:
    """Run the whole curation; returns what was done. Raises :class:`EdgepruneError` for user mistakes."""
    from .report.html import ReportData, write_report

    check_keep(options.keep)
    check_options(options)
    check_output_dir(options.out, overwrite=options.overwrite)
    check_apart(options.out, curate_inputs(path, options))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    dataset = read_with_options(path, options)
    check_apart(options.out, dataset_inputs(dataset))
    n_invalid = check_boxes(dataset, drop=options.drop_invalid_boxes)
    if options.level == "image":
        check_clusters(options.clusters, len(dataset))
    timings["read"] = time.perf_counter() - started

    placer = None
    if options.runner == "beam":
        from .beam.curate import score_with_beam
        from .beam.write import BeamWriter

        dataset, scored = score_with_beam(dataset, options, timings)
        placer = BeamWriter(options.image_mode)
    else:
        scored = score_dataset(dataset, options, timings)
    image_mode = placer or options.image_mode
    started = time.perf_counter()
    kept, selection_notes = choose(dataset, scored, options)
    candidates, labels, distances = scored.candidates, scored.labels, scored.distances
    ranks = np.full(len(dataset), -1, np.int64)
    ranks[candidates] = rank_in_cluster(distances[candidates], labels[candidates])
    timings["select"] = time.perf_counter() - started
    backbone, embeddings, groups, k = scored.backbone, scored.embeddings, scored.groups, scored.k
    representative, cache_counts = scored.representative, scored.cache_counts
    notes = scored.notes + selection_notes
    pruned = dataset.subset(kept)
    if n_invalid:
        notes.append(f"{n_invalid} invalid boxes {'dropped' if options.drop_invalid_boxes else 'kept'}")
    started = time.perf_counter()
    with atomic_output_dir(options.out, overwrite=options.overwrite) as tmp:
        write = placer.write_dataset if placer is not None else functools.partial(write_dataset, image_mode=image_mode)
        output_format = write(pruned, tmp / "pruned", format=options.out_format)
        renumbered = renumbered_label_ids(dataset, output_format)
        if renumbered:
            notes.append(
                "TFRecord label ids are 1..N (0 is background): category ids renumbered "
                + ", ".join(f"{old}->{new}" for old, new in renumbered.items())
            )
        if options.write_dropped:
            write(dataset.subset(~kept), tmp / "dropped", format=options.out_format)
        write_scores(tmp / "scores.csv", dataset, labels, distances, ranks, kept, representative)
        if scored.objects is not None:
            write_object_scores(tmp / "objects.csv", dataset, scored.crops, scored.objects, kept)
        if options.save_embeddings:
            save_embeddings(tmp / "embeddings.npz", dataset, scored)
        if options.export_folders:
            export_folders(
                tmp / "folders",
                dataset.subset(candidates),
                labels[candidates],
                ranks[candidates],
                keep=options.keep,
                which=options.export_folders,
                image_mode=image_mode,
            )
        if placer is not None:
            from .beam.options import pipeline_options

            copy_started = time.perf_counter()
            copied, shards = placer.run(options.work_dir, pipeline_options(options.beam_options))
            timings["copy"] = time.perf_counter() - copy_started
            notes.append(f"runner beam: {copied} image files and {shards} TFRecord shards written by the Beam workers")
        settings = {
            "input": str(path),
            "format": dataset.format,
            "output format": output_format,
            "backbone": backbone_name(backbone, options.embeddings),
            **({"image size": backbone.image_size} if backbone is not None else {}),
            "level": options.level,
            **(
                {
                    "object clusters": f"per {options.object_clusters}",
                    "aggregate": options.aggregate,
                    "crop padding": options.crop_padding,
                    "min crop size": options.min_crop_size,
                }
                if options.level == "object"
                else {"embedding dim": embeddings.shape[1]}
            ),
            "min boxes per category": options.min_per_category,
            "centred": options.center,
            "L2 normalised": options.normalize,
            "method": options.method,
            "clusters": k,
            "policy": options.policy,
            "scope": "per cluster" if options.per_cluster else "global",
            "keep": options.keep,
            "seed": options.seed,
            "runner": options.runner,
        }
        cut, cut_label = _cut(distances, kept, options)
        map_png = _embedding_map(scored, kept, options, timings)
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
                duplicate_groups=[[int(i) for i in g] for g in groups],
                duplicate_similarity=_group_similarity(scored, groups, options),
                crops=scored.crops,
                objects=scored.objects,
                embedding_map=map_png,
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
            backbone_name(backbone, options.embeddings),
            cache_counts["cached"],
            cache_counts["computed"],
            n_invalid,
            int((~candidates).sum()),
            timings,
            notes,
            renumbered,
            options.runner,
        )
        timings["write"] = time.perf_counter() - started
        (tmp / "summary.json").write_text(json.dumps(asdict(result), default=str, indent=2))
    return result
