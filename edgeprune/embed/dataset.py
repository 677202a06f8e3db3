"""Embedding a whole dataset through the cache: hash every image, embed only what the cache lacks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..datasets import Dataset
from ..storage import blocks, empty_rows
from .backbone import Backbone
from .cache import EmbeddingCache
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
    The rows are filled a batch at a time into one matrix, a file-backed scratch one when large
    (:func:`edgeprune.storage.empty_rows`).
    """
    keys, infos = [], []
    for img in dataset.images:  # the cache key and the header the pipeline needs: one read, unless a reader had them
        key, info = img.content()
        keys.append(key)
        infos.append(info)
    cache = EmbeddingCache(cache_root, backbone.key) if cache_root is not None else None
    found, missing = cache.lookup(keys) if cache is not None else ({}, list(range(len(keys))))
    log.info("embeddings: %d cached, %d to compute", len(found), len(missing))
    result = _cached_rows(found, len(keys))

    if missing:
        sources = [image_source(dataset.images[i]) for i in missing]
        names = [dataset.images[i].file_name for i in missing]

        def save(start: int, rows: np.ndarray) -> None:
            nonlocal result
            if result is None:
                result = empty_rows(len(keys), rows.shape[1])
            result[missing[start : start + len(rows)]] = rows
            if cache is not None:
                cache.add([keys[missing[start + j]] for j in range(len(rows))], rows)

        embed_images(
            sources,
            backbone,
            batch_size=batch_size,
            names=names,
            on_batch=save,
            progress=progress,
            infos=[infos[i] for i in missing],
            keep=False,
        )
        if cache is not None:
            cache.consolidate()
    if result is None:  # an empty dataset
        result = np.zeros((0, 0), np.float32)
    return result, {"cached": len(found), "computed": len(missing)}


def _cached_rows(found: dict[int, np.ndarray], n_rows: int) -> np.ndarray | None:
    """The result matrix (:func:`edgeprune.storage.empty_rows`) with the cached rows in place, a block at a time;
    None when nothing was cached (the first embedded batch gives the width)."""
    if not found:
        return None
    result = empty_rows(n_rows, next(iter(found.values())).shape[0])
    positions = np.fromiter(found, np.int64, len(found))
    for part in blocks(len(positions), result.shape[1] * 4):
        result[positions[part]] = [found[p] for p in positions[part].tolist()]
    return result
