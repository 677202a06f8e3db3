"""The embed stage: the backbone (edgeprune's self-supervised one, or any TF-Hub handle or SavedModel), image and
crop embeddings through the on-disk cache, or rows of a ``--embeddings`` file instead."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .types import SELFSUP, CurateOptions, EmbeddingSettings


@dataclass
class Embedded:
    """The embed stage's output. ``images`` is empty (``[N, 0]``) when whole images were not asked for; ``crops``
    and ``crop_vectors`` are None without crops; ``backbone`` is None when an embeddings file was read."""

    backbone: object
    images: np.ndarray
    crops: object
    crop_vectors: np.ndarray | None
    counts: dict[str, int]


@dataclass(frozen=True)
class CropSpec:
    """Box crops to embed: context around each box (``padding`` x its size per side) and the smallest side."""

    padding: float = 0.1
    min_size: float = 32.0


def resolve_backbone(
    embedding: EmbeddingSettings, dataset, cache_dir: Path, timings: dict[str, float], *, seed=0, progress=True
):
    """Load the backbone ``embedding`` names (the built-in self-supervised one, pretrained on ``dataset`` with
    ``seed``, or any TF-Hub handle/SavedModel)."""
    from ..embed import load_backbone

    handle, image_size = embedding.backbone, embedding.image_size
    if handle == SELFSUP:
        from ..embed.selfsup import pretrained_for_dataset

        started = time.perf_counter()
        handle, trained_size = pretrained_for_dataset(
            dataset, cache_root=cache_dir, steps=embedding.pretrain_steps, seed=seed, progress=progress
        )
        timings["pretrain"] = time.perf_counter() - started
        image_size = image_size or trained_size
    elif image_size is None:
        from ..embed.selfsup import read_backbone_meta

        image_size = read_backbone_meta(handle).get("image_size") if Path(handle).is_dir() else None
    return load_backbone(handle, image_size=image_size, preprocess=embedding.preprocess)


def embed_for_curation(
    dataset,
    embedding: EmbeddingSettings,
    timings: dict[str, float],
    *,
    seed: int = 0,
    progress: bool = True,
    whole_images: bool = True,
    crops: CropSpec | None = None,
) -> Embedded:
    """Embed ``dataset`` as ``embedding`` says (through the on-disk cache, or rows of its embeddings file): whole
    images when asked, box crops with ``crops``. ``curate``, ``leaks``, ``split`` and ``select`` all embed here."""
    from ..embed import default_cache_root, embed_dataset
    from ..embed.crops import crop_regions, embed_crops

    regions = None
    if crops is not None:
        regions = crop_regions(dataset, padding=crops.padding, min_size=crops.min_size)
    started = time.perf_counter()
    if embedding.embeddings is not None:
        images, crop_vectors = external_embeddings(dataset, embedding.embeddings, regions, whole_images)
        timings["embed"] = time.perf_counter() - started
        return Embedded(None, images, regions, crop_vectors, {"cached": 0, "computed": 0, "loaded": len(images)})
    cache_dir = embedding.cache_dir or default_cache_root()
    if embedding.loaded is not None:
        backbone = embedding.loaded
    else:
        backbone = resolve_backbone(embedding, dataset, cache_dir, timings, seed=seed, progress=progress)
    if embedding.embed_runtime != "tf" and embedding.loaded is None:
        from ..embed.litert import litert_backbone

        started = time.perf_counter()
        backbone = litert_backbone(
            backbone, embedding.embed_runtime, dataset, cache_dir, seed=seed, batch_size=embedding.batch_size
        )
        timings["convert"] = time.perf_counter() - started
    started = time.perf_counter()
    images, crop_vectors, counts = np.zeros((len(dataset), 0), np.float32), None, {"cached": 0, "computed": 0}
    settings = {"batch_size": embedding.batch_size, "progress": progress}
    if whole_images:
        images, counts = embed_dataset(dataset, backbone, cache_root=cache_dir / "embeddings", **settings)
    if regions is not None:
        crop_vectors, counts = embed_crops(
            dataset, regions, backbone, cache_root=cache_dir / "crop-embeddings", **settings
        )
    timings["embed"] = time.perf_counter() - started
    return Embedded(backbone, images, regions, crop_vectors, counts)


def curate_embeddings(dataset, options: CurateOptions, timings: dict[str, float]) -> Embedded:
    """The embed stage as ``curate`` runs it: whole images at image level or for ``--dedup`` (which compares whole
    images), box crops at object level."""
    return embed_for_curation(
        dataset,
        options.embedding,
        timings,
        seed=options.seed,
        progress=options.progress,
        whole_images=options.clustering.level == "image" or options.selection.dedup is not None,
        crops=CropSpec(options.clustering.crop_padding, options.clustering.min_crop_size)
        if options.clustering.level == "object"
        else None,
    )


def external_embeddings(dataset, path: Path, crops, need_images: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of the ``--embeddings`` file ``path`` for the images (if needed) and the crops (at object level)."""
    from ..embed.external import align

    boxes = list(zip(crops.image_index.tolist(), crops.box_index.tolist())) if crops is not None else []
    vectors = align(path, [(dataset, dataset.images)], images=need_images, boxes=boxes)
    n_images = len(dataset) if need_images else 0
    images = vectors[:n_images] if need_images else np.zeros((len(dataset), 0), np.float32)
    return images, vectors[n_images:] if crops is not None else None


def backbone_name(backbone, embeddings: Path | None) -> str:
    """The backbone's handle, or the embeddings file read instead of one."""
    return backbone.handle if backbone is not None else f"embeddings file {embeddings}"


def save_embeddings(path: Path, dataset, images: np.ndarray, crops=None, crop_vectors: np.ndarray | None = None):
    """``--save-embeddings``: the image rows (keyed by file name) and, at object level, the box rows (keyed
    ``<file name>#<box index>``), in the format ``--embeddings`` reads."""
    from ..embed.external import box_keys, image_keys, write_embeddings_file

    keys, rows = [], []
    if images.shape[1]:
        keys += image_keys(dataset)
        rows.append(images)
    if crops is not None and crop_vectors is not None:
        keys += box_keys(dataset, crops.image_index, crops.box_index)
        rows.append(crop_vectors)
    return write_embeddings_file(path, keys, np.concatenate(rows) if rows else np.zeros((0, 1), np.float32))
