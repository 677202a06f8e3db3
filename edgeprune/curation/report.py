"""The report stage: the settings table, the embedding map and the near-duplicate strips of ``report.html``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .embed import backbone_name
from .features import scored_features
from .selection import global_cut
from .types import CurateOptions, Scored


def curate_settings(path, dataset, scored: Scored, options: CurateOptions, output_format: str) -> dict:
    """What the report's settings table shows."""
    backbone = scored.backbone
    if options.clustering.level == "object":
        level = {
            "object clusters": f"per {options.clustering.object_clusters}",
            "aggregate": options.clustering.aggregate,
            "crop padding": options.clustering.crop_padding,
            "min crop size": options.clustering.min_crop_size,
        }
    else:
        level = {"embedding dim": scored.embeddings.shape[1]}
    return {
        "input": str(path),
        "format": dataset.format,
        "output format": output_format,
        "backbone": backbone_name(backbone, options.embedding.embeddings),
        **({"image size": backbone.image_size} if backbone is not None else {}),
        "level": options.clustering.level,
        **level,
        "min boxes per category": options.selection.min_per_category,
        "centred": options.clustering.center,
        "L2 normalised": options.clustering.normalize,
        "method": options.clustering.method,
        "clusters": scored.k,
        "policy": options.selection.policy,
        "scope": "per cluster" if options.selection.per_cluster else "global",
        "keep": options.selection.keep,
        "seed": options.seed,
        "runner": options.execution.runner,
    }


def embedding_map(scored: Scored, kept: np.ndarray, options: CurateOptions, timings: dict) -> bytes | None:
    """The report's t-SNE map of the image embeddings (None at object level without image embeddings)."""
    if not options.output.map_points or not scored.embeddings.shape[1] or len(scored.embeddings) < 2:
        return None
    from ..report.embedding_map import embedding_map_png

    started = time.perf_counter()
    links = [(int(g[0]), int(member)) for g in scored.groups for member in g[1:]]
    png = embedding_map_png(
        scored_features(scored, options.clustering),
        scored.labels,
        kept,
        links=links,
        max_points=options.output.map_points,
        seed=options.seed,
    )
    timings["map"] = time.perf_counter() - started
    return png


def group_similarity(scored: Scored, options: CurateOptions) -> list[list[float]]:
    """Each near-duplicate group's cosine similarities to its representative (the first member, 1.0 itself)."""
    if not scored.groups or scored.embeddings.shape[1] == 0:
        return []
    features = scored_features(scored, options.clustering)
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return [(unit[np.asarray(g)] @ unit[g[0]]).astype(float).round(6).tolist() for g in scored.groups]


def write_curate_report(
    target: Path, path, dataset, scored: Scored, kept: np.ndarray, notes: list[str], settings: dict, options, timings
) -> None:
    """``report.html`` of one curate run."""
    from ..report.html import ReportData, write_report

    cut, cut_label = global_cut(scored.distances, kept, options)
    data = ReportData(
        f"edgeprune curate: {Path(str(path)).name}",
        settings,
        dataset,
        scored.labels,
        scored.distances,
        kept,
        cut,
        cut_label,
        notes,
        duplicate_groups=[[int(i) for i in g] for g in scored.groups],
        duplicate_similarity=group_similarity(scored, options),
        crops=scored.crops,
        objects=scored.objects,
        embedding_map=embedding_map(scored, kept, options, timings),
    )
    write_report(data, target)
