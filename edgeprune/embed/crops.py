"""Object-level embedding: every box, cropped with some context, through the same backbone and cache as images.

Crops are cut in the ``tf.data`` pipeline with ``tf.image.crop_and_resize`` (all boxes of an image in one op), then
re-batched, so a forward pass sees ``batch_size`` crops whatever the number of boxes per image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..datasets import Dataset
from ..errors import EdgepruneError
from ..progress import progress as progress_bar
from .backbone import PREPROCESSING, Backbone
from .cache import EmbeddingCache
from .images import decode_rgb, encoded_images, find_bad_image, image_source

log = logging.getLogger(__name__)


@dataclass
class Crops:
    """The crop regions of a dataset's boxes: one row per usable box."""

    image_index: np.ndarray  # [M] image each crop comes from
    box_index: np.ndarray  # [M] position of the box in that image's box list
    category_id: np.ndarray  # [M]
    regions: np.ndarray  # [M, 4] float32 crop corners x1, y1, x2, y2 in pixels, padding included

    def __len__(self) -> int:
        return len(self.image_index)


def crop_regions(dataset: Dataset, *, padding: float = 0.1, min_size: float = 32.0) -> Crops:
    """Where to cut each box: grown by ``padding`` x its size on every side, at least ``min_size`` pixels square
    (small objects get more context, not a blurrier upscale), clipped to the image. Degenerate boxes are skipped."""
    rows = []
    for i, img in enumerate(dataset.images):
        for j, box in enumerate(img.boxes):
            x, y, w, h = box.bbox
            if w <= 0 or h <= 0:
                continue
            cx, cy = x + w / 2, y + h / 2
            half_w = max(w * (1 + 2 * padding), min_size) / 2
            half_h = max(h * (1 + 2 * padding), min_size) / 2
            x1, y1 = max(0.0, cx - half_w), max(0.0, cy - half_h)
            x2, y2 = min(float(img.width), cx + half_w), min(float(img.height), cy + half_h)
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            rows.append((i, j, box.category_id, x1, y1, x2, y2))
    if not rows:
        return Crops(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.float32))
    table = np.array(rows, dtype=np.float64)
    return Crops(
        table[:, 0].astype(np.int64),
        table[:, 1].astype(np.int64),
        table[:, 2].astype(np.int64),
        table[:, 3:].astype(np.float32),
    )


def _normalised_boxes(crops: Crops, dataset: Dataset, positions: np.ndarray) -> list[np.ndarray]:
    """Per image (in ``positions`` order of crops), ``[n, 4]`` boxes as ``crop_and_resize`` wants: y1, x1, y2, x2 in
    0..1 of the image."""
    out = []
    sizes = np.array([(img.width, img.height) for img in dataset.images], np.float32)
    for image in np.unique(crops.image_index[positions]):
        rows = positions[crops.image_index[positions] == image]
        w, h = sizes[image]
        x1, y1, x2, y2 = crops.regions[rows].T
        out.append((int(image), rows, np.stack([y1 / h, x1 / w, y2 / h, x2 / w], axis=1).astype(np.float32)))
    return out


def crop_batches(
    dataset: Dataset, crops: Crops, positions: np.ndarray, backbone: Backbone, batch_size: int
) -> tuple[tf.data.Dataset, np.ndarray]:
    """A pipeline of preprocessed crop batches for the crops at ``positions``, and the crop order it yields."""
    per_image = _normalised_boxes(crops, dataset, positions)
    order = np.concatenate([rows for _, rows, _ in per_image]) if per_image else np.zeros(0, np.int64)
    images = [dataset.images[i] for i, _, _ in per_image]
    boxes = tf.ragged.constant([b.tolist() for _, _, b in per_image], ragged_rank=1, dtype=tf.float32, inner_shape=(4,))
    data = encoded_images([image_source(img) for img in images])
    native = tf.constant([img.content()[1].native for img in images], tf.bool)
    scale, offset = PREPROCESSING[backbone.preprocess]
    size = backbone.image_size

    def cut(encoded: tf.Tensor, image_boxes: tf.Tensor, upright: tf.Tensor) -> tf.Tensor:
        image = decode_rgb(encoded, upright)  # boxes are in the displayed (EXIF-oriented) frame
        image_boxes = image_boxes.to_tensor() if isinstance(image_boxes, tf.RaggedTensor) else image_boxes
        n = tf.shape(image_boxes)[0]
        cropped = tf.image.crop_and_resize(
            tf.cast(image[None], tf.float32), image_boxes, tf.zeros([n], tf.int32), [size, size]
        )
        return cropped * scale + offset

    data = tf.data.Dataset.zip(
        (data, tf.data.Dataset.from_tensor_slices(boxes), tf.data.Dataset.from_tensor_slices(native))
    )
    data = data.map(cut, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE), order


def crop_keys(dataset: Dataset, crops: Crops) -> list[str]:
    """Cache keys: the image's content hash and the crop region (rounded to 0.1 px)."""
    hashes: dict[int, str] = {}
    keys = []
    for image, region in zip(crops.image_index.tolist(), crops.regions):
        if image not in hashes:
            hashes[image] = dataset.images[image].content()[0]
        keys.append(f"{hashes[image]}@" + ",".join(f"{v:.1f}" for v in region))
    return keys


def embed_crops(
    dataset: Dataset,
    crops: Crops,
    backbone: Backbone,
    *,
    cache_root: Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, int]]:
    """Embeddings ``[len(crops), D]`` in crop order, through the on-disk cache; counts as for images."""
    keys = crop_keys(dataset, crops)
    cache = EmbeddingCache(cache_root, backbone.key) if cache_root is not None else None
    found, missing = cache.lookup(keys) if cache is not None else ({}, list(range(len(keys))))
    log.info("crop embeddings: %d cached, %d to compute", len(found), len(missing))
    if not keys:
        raise EdgepruneError(f"{dataset.source}: no usable boxes to embed at object level (use level=image)")
    rows: dict[int, np.ndarray] = dict(found)
    if missing:
        batches, order = crop_batches(dataset, crops, np.asarray(missing, np.int64), backbone, batch_size)
        done = 0
        bar = progress_bar(len(missing), "embedding crops", "crop", enabled=progress)
        try:
            for batch in batches:
                embeddings = backbone(batch).numpy().astype(np.float32)
                positions = order[done : done + len(embeddings)]
                if cache is not None:
                    cache.add([keys[p] for p in positions], embeddings)
                rows.update(zip(positions.tolist(), embeddings))
                done += len(embeddings)
                bar.update(len(embeddings))
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            sources = [image_source(img) for img in dataset.images]
            names = [img.file_name for img in dataset.images]
            start = int(crops.image_index[order[done]]) if done < len(order) else 0
            raise EdgepruneError(f"{find_bad_image(sources, start, names)}: corrupt or truncated image") from None
        except tf.errors.NotFoundError as exc:
            raise EdgepruneError(f"cannot read image: {exc.message.splitlines()[0]}") from None
        finally:
            bar.close()
        if cache is not None:
            cache.consolidate()
    result = np.stack([rows[p] for p in range(len(keys))]).astype(np.float32)
    return result, {"cached": len(found), "computed": len(missing)}
