"""The embed stage: the backbone (edgeprune's self-supervised one, or any TF-Hub handle or SavedModel), image and
crop embeddings through the on-disk cache, or rows of a ``--embeddings`` file instead."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .types import SELFSUP, CurateOptions

EMBEDDING_FIELDS = ("backbone", "image_size", "preprocess", "batch_size", "cache_dir", "embeddings", "pretrain_steps")


def embedding_options(options, out: Path, **changes) -> CurateOptions:
    """The curate options that embed images as ``options`` (any command's options with the embedding fields,
    ``seed`` and ``progress``) says, for commands that reuse the embed stage (``leaks``, ``split``, ``select``)."""
    values = {
        name: getattr(options, name) for name in (*EMBEDDING_FIELDS, "seed", "progress") if hasattr(options, name)
    }
    return CurateOptions(out=out, **{**values, **changes})


@dataclass
class Embedded:
    """The embed stage's output. ``images`` is empty (``[N, 0]``) at object level without ``--dedup``; ``crops``
    and ``crop_vectors`` are None at image level; ``backbone`` is None when ``--embeddings`` was read."""

    backbone: object
    images: np.ndarray
    crops: object
    crop_vectors: np.ndarray | None
    counts: dict[str, int]


def resolve_backbone(options: CurateOptions, dataset, cache_dir: Path, timings: dict[str, float]):
    """Load the backbone the options name (the built-in self-supervised one, or any TF-Hub handle/SavedModel)."""
    from ..embed import load_backbone

    handle, image_size = options.backbone, options.image_size
    if handle == SELFSUP:
        from ..embed.selfsup import pretrained_for_dataset

        started = time.perf_counter()
        handle, trained_size = pretrained_for_dataset(
            dataset, cache_root=cache_dir, steps=options.pretrain_steps, seed=options.seed, progress=options.progress
        )
        timings["pretrain"] = time.perf_counter() - started
        image_size = image_size or trained_size
    elif image_size is None:
        from ..embed.selfsup import read_backbone_meta

        image_size = read_backbone_meta(handle).get("image_size") if Path(handle).is_dir() else None
    return load_backbone(handle, image_size=image_size, preprocess=options.preprocess)


def embed_for_curation(dataset, options: CurateOptions, timings: dict[str, float]) -> Embedded:
    """Embed what the run needs: whole images at image level or for ``--dedup``, box crops at object level."""
    from ..embed import default_cache_root, embed_dataset
    from ..embed.crops import crop_regions, embed_crops

    need_images = options.level == "image" or options.dedup is not None  # dedup compares whole images
    crops = None
    if options.level == "object":
        crops = crop_regions(dataset, padding=options.crop_padding, min_size=options.min_crop_size)
    started = time.perf_counter()
    if options.embeddings is not None:
        images, crop_vectors = external_embeddings(dataset, options.embeddings, crops, need_images)
        timings["embed"] = time.perf_counter() - started
        return Embedded(None, images, crops, crop_vectors, {"cached": 0, "computed": 0, "loaded": len(images)})
    cache_dir = options.cache_dir or default_cache_root()
    backbone = resolve_backbone(options, dataset, cache_dir, timings)
    started = time.perf_counter()
    images, crop_vectors, counts = np.zeros((len(dataset), 0), np.float32), None, {"cached": 0, "computed": 0}
    settings = {"batch_size": options.batch_size, "progress": options.progress}
    if need_images:
        images, counts = embed_dataset(dataset, backbone, cache_root=cache_dir / "embeddings", **settings)
    if crops is not None:
        crop_vectors, counts = embed_crops(
            dataset, crops, backbone, cache_root=cache_dir / "crop-embeddings", **settings
        )
    timings["embed"] = time.perf_counter() - started
    return Embedded(backbone, images, crops, crop_vectors, counts)


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
