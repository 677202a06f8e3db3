"""Embed-to-score in this process: the stages ``curate``'s local runner and ``scaling``'s cells run, one call."""

from __future__ import annotations

from .dedup import duplicate_groups, duplicate_of
from .embed import curate_embeddings
from .features import option_features
from .fit import cluster_crops, cluster_images
from .types import CurateOptions, Scored


def score_dataset(dataset, options: CurateOptions, timings: dict[str, float] | None = None) -> Scored:
    """Embed (cached) or load ``--embeddings``, deduplicate, cluster and score every image, at image or object
    level."""
    timings = {} if timings is None else timings
    embedded = curate_embeddings(dataset, options, timings)
    features = None  # computed once: dedup, clustering, selection and the report share them
    if options.clustering.level == "image" or options.selection.dedup is not None:
        features = option_features(embedded.images, options.clustering)
    groups = []
    if options.selection.dedup is not None:
        groups = duplicate_groups(features, options.selection.dedup)
    representative = duplicate_of(groups, len(dataset))
    candidates = representative < 0  # near-duplicates leave before clustering and selection
    if options.clustering.level == "object":
        clustering = cluster_crops(dataset, embedded.crops, embedded.crop_vectors, candidates, options, timings)
    else:
        clustering = cluster_images(features, candidates, options, timings)
    notes = clustering.notes
    if options.embedding.embeddings is not None:
        notes.append(f"embeddings read from {options.embedding.embeddings}; no backbone was loaded")
    runtime = getattr(embedded.backbone, "runtime_note", None)
    if runtime:
        notes.append(runtime)
    if options.selection.dedup is not None:
        notes.append(
            f"dedup: {len(groups)} groups of near-duplicates (cosine >= {options.selection.dedup}), "
            f"{int((~candidates).sum())} images dropped before pruning"
        )
    return Scored(
        embedded.images,
        clustering.labels,
        clustering.distances,
        candidates,
        representative,
        groups,
        clustering.k,
        embedded.backbone,
        embedded.counts,
        notes,
        clustering.crops,
        clustering.objects,
        embedded.crop_vectors,
        features,
    )
