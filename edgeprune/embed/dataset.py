"""Embedding a whole dataset through the cache: hash every image, embed only what the cache lacks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..datasets import Dataset
from ..images import probe
from .backbone import Backbone
from .cache import EmbeddingCache, content_hash
from .images import embed_images, image_source

log = logging.getLogger(__name__)


def embed_dataset(
    dataset: Dataset,
    backbone: Backbone,
    *,
    cache_root: Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, int]]:
    """Embeddings ``[len(dataset), D]`` in image order, and counts ``{"cached": .., "computed": ..}``.

    With ``cache_root`` set, rows are looked up by (content hash, backbone key) and new rows are saved after every
    batch, so a second run with other pruning options, or a run after an interruption, embeds only what is new.
    """
    keys, infos = [], []
    for img in dataset.images:  # one read per image: the cache key, and the header the pipeline needs
        data = img.read_bytes()
        keys.append(content_hash(data))
        infos.append(probe(data, img.file_name))
    cache = EmbeddingCache(cache_root, backbone.key) if cache_root is not None else None
    found, missing = cache.lookup(keys) if cache is not None else ({}, list(range(len(keys))))
    log.info("embeddings: %d cached, %d to compute", len(found), len(missing))

    computed = np.zeros((0, 0), np.float32)
    if missing:
        sources = [image_source(dataset.images[i]) for i in missing]
        names = [dataset.images[i].file_name for i in missing]

        def save(start: int, rows: np.ndarray) -> None:
            if cache is not None:
                cache.add([keys[missing[start + j]] for j in range(len(rows))], rows)

        computed = embed_images(
            sources,
            backbone,
            batch_size=batch_size,
            names=names,
            on_batch=save,
            progress=progress,
            infos=[infos[i] for i in missing],
        )
        if cache is not None:
            cache.consolidate()
    dim = computed.shape[1] if missing else next(iter(found.values())).shape[0]
    result = np.empty((len(keys), dim), np.float32)
    for position, row in found.items():
        result[position] = row
    if missing:
        result[missing] = computed
    return result, {"cached": len(found), "computed": len(missing)}
