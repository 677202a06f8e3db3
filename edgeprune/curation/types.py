"""The options and result types of a curation run: a leaf that imports no stage and no runner."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

SELFSUP = "selfsup"  # --backbone selfsup: edgeprune's self-supervised backbone, pretrained on the dataset
RUNNERS = ("local", "beam")


@dataclass(frozen=True, kw_only=True)
class EmbeddingSettings:
    """How a command embeds images: a part of the options of ``curate``, ``leaks``, ``split`` and ``select``; keys
    equal the CLI's options (:func:`edgeprune.cli.common.add_embedding_options`)."""

    backbone: str = SELFSUP
    image_size: int | None = None
    preprocess: str = "unit"
    batch_size: int = 64
    cache_dir: Path | None = None
    embeddings: Path | None = None  # bring your own: .npz or .parquet keyed by file name (see embed/external.py)
    pretrain_steps: int | None = None
    embed_runtime: str = "tf"  # tf, litert or litert-int8 (embed/litert.py)
    # State, not an option (no flag, no keyword): the backbone an earlier call loaded, set by reusing().
    loaded: object = field(default=None, compare=False, repr=False, metadata={"state": True})

    def reusing(self, backbone) -> EmbeddingSettings:
        """These settings with a backbone already loaded, used as it is by the next embedding call (so ``selfsup`` is
        not pretrained again, and every split of ``leaks`` goes through the same converted LiteRT model); unchanged
        when ``backbone`` is None (an embeddings file was read)."""
        if backbone is None:
            return self
        return replace(self, backbone=backbone.handle, image_size=backbone.image_size, loaded=backbone)


@dataclass(frozen=True, kw_only=True)
class DatasetReading:
    """How a dataset is read (:func:`edgeprune.datasets.read_with_options`): a part of the options of ``curate``,
    ``split`` and ``select``."""

    format: str | None = None
    images_dir: Path | None = None
    split: str | None = None
    label_map: Path | None = None
    map_categories: str | None = None  # merge/rename/drop classes after reading (datasets/mapping.py)
    fps: float | None = None  # a folder of videos: frames sampled per second of video (datasets/video.py)
    every: int | None = None  # a folder of videos: every N-th frame instead


@dataclass(frozen=True, kw_only=True)
class ClusteringSettings:
    """How embeddings become prototypes and scores: the features (centred, normalised), the clustering, and the
    level (images, or object crops and how their scores aggregate per image)."""

    method: str = "kmeans"
    clusters: str = "10"  # a number, auto or auto:silhouette (cluster/autok.py)
    normalize: bool = True
    center: bool = True
    level: str = "image"
    object_clusters: str = "category"
    aggregate: str = "mean"
    crop_padding: float = 0.1
    min_crop_size: float = 32.0


@dataclass(frozen=True, kw_only=True)
class SelectionSettings:
    """Which images are kept: the share, the policy and its parameters, and the constraints around it."""

    keep: float = 0.5
    policy: str = "hard"
    per_cluster: bool = True
    exact: bool = False
    dedup: float | None = None  # near-duplicates (cosine >= dedup) dropped before clustering
    min_per_category: int = 0
    groups: Path | None = None  # CSV image,group (a video or clip): picks dealt round-robin over the groups
    probcover_delta: float | None = None  # ProbCover's ball radius (None: chosen by cluster purity)
    ccs_beta: float = 0.1  # CCS: the hardest share dropped before stratified sampling
    ccs_strata: int = 50  # CCS: equal-width strata of the prototype distance


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """What is written besides the pruned dataset, and how."""

    out_format: str | None = None
    overwrite: bool = False
    write_dropped: bool = False
    save_embeddings: bool = False
    export_folders: str | None = None
    image_mode: str = "copy"
    drop_invalid_boxes: bool = False
    map_points: int = 5000  # images in the report's embedding map (subsampled above; 0: no map)


@dataclass(frozen=True, kw_only=True)
class ExecutionSettings:
    """Where the stages run: in this process, or as Apache Beam pipelines (curation/runners/beam.py)."""

    runner: str = "local"
    beam_options: str | None = None  # Beam pipeline flags, e.g. "--runner=DataflowRunner --project=p"
    work_dir: str | None = None  # beam: stage outputs, a local path or a Beam filesystem URI; reruns resume
    sample_per_cluster: int = 256  # beam: k-means sample size per centroid


PARTS = {
    part.__name__: part
    for part in (
        EmbeddingSettings,
        DatasetReading,
        ClusteringSettings,
        SelectionSettings,
        OutputSettings,
        ExecutionSettings,
    )
}


def option_fields(options_class) -> dict[str, str]:
    """Every flat option name of ``options_class`` (its own fields and its parts' fields) and its type, as written."""
    names = {}
    for f in fields(options_class):
        part = PARTS.get(str(f.type))
        own = [g for g in fields(part) if not g.metadata.get("state")] if part else [f]
        names.update({g.name: str(g.type) for g in own})
    return names


def compose_options(options_class, values: dict):
    """``options_class`` from flat keyword ``values`` (the CLI's arguments, the Python API's keywords): each part
    field takes the values its own fields name. An unknown name is a ``TypeError``."""
    known = option_fields(options_class)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    given = {}
    for f in fields(options_class):
        part = PARTS.get(str(f.type))
        if part is None:
            if f.name in values:
                given[f.name] = values[f.name]
        else:
            given[f.name] = part(**{g.name: values[g.name] for g in fields(part) if g.name in values})
    return options_class(**given)


@dataclass
class CurateOptions:
    """Every curate option, in parts (one per concern); :func:`compose_options` builds it from flat names (keys
    equal the CLI's arguments and the keywords of :func:`edgeprune.curate`)."""

    out: Path | str  # a str only for an s3:// or gs:// URI (--runner beam)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    reading: DatasetReading = field(default_factory=DatasetReading)
    clustering: ClusteringSettings = field(default_factory=ClusteringSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    seed: int = 0
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


@dataclass
class Clustering:
    """One level's fit-and-score result: a cluster and a distance per image (aggregated from the crops at object
    level), the number of clusters and what to tell the user."""

    labels: np.ndarray
    distances: np.ndarray
    k: int
    notes: list[str]
    crops: object = None  # object level: the Crops table
    objects: object = None  # object level: the ObjectClusters


@dataclass
class Scored:
    """What a runner hands to selection, the writers and the report: a score (distance) and a cluster per image,
    and the context they need."""

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
    features: np.ndarray | None = None  # the embeddings as scoring sees them (option_features), when computed
