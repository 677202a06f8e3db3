"""Batched embedding: decode and resize in a parallel ``tf.data`` pipeline, one forward pass per batch.

Sources are file paths or encoded bytes (images held in TFRecords). A corrupt or truncated image stops the
pipeline; the failing batch is then checked image by image so the error names the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from ..errors import EdgepruneError
from ..progress import progress as progress_bar
from .backbone import PREPROCESSING, Backbone

log = logging.getLogger(__name__)
Source = Path | bytes


JPEG_RATIOS = (1, 2, 4, 8)


def jpeg_ratio(width: int, height: int, image_size: int) -> int:
    """The largest libjpeg DCT downscale (1, 2, 4, 8) that still decodes at least ``image_size`` pixels."""
    shorter = min(width, height)
    return max((r for r in JPEG_RATIOS if shorter // r >= image_size), default=1)


def decode_image(encoded: tf.Tensor, image_size: int, preprocess: str, ratio: tf.Tensor | int = 1) -> tf.Tensor:
    """Decode JPEG/PNG/BMP/GIF bytes to RGB, resize to ``image_size`` square, scale as ``preprocess`` says.

    JPEGs are decoded at ``1/ratio`` scale in the DCT domain (libjpeg), several times cheaper than a full decode
    followed by a large resize; the caller picks ``ratio`` so the decoded image is still >= ``image_size``.
    """
    scale, offset = PREPROCESSING[preprocess]
    index = tf.argmax(tf.cast(tf.equal(tf.constant(JPEG_RATIOS, tf.int32), tf.cast(ratio, tf.int32)), tf.int32))
    branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r) for r in JPEG_RATIOS]
    image = tf.cond(
        tf.io.is_jpeg(encoded),
        lambda: tf.switch_case(tf.cast(index, tf.int32), branches),
        lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False),
    )
    image = tf.image.resize(image, [image_size, image_size])
    return image * scale + offset


def image_batches(
    sources: Sequence[Source],
    *,
    image_size: int,
    preprocess: str = "unit",
    batch_size: int = 64,
    sizes: Sequence[tuple[int, int]] | None = None,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of preprocessed float32 batches ``[B, S, S, 3]``, in order, with prefetch.

    ``sizes`` (width, height per source), when known, lets JPEGs decode at a reduced scale.
    """
    ratios = [jpeg_ratio(w, h, image_size) for w, h in sizes] if sizes is not None else [1] * len(sources)
    ratio_data = tf.data.Dataset.from_tensor_slices(tf.constant(ratios, tf.int32))
    if sources and isinstance(sources[0], (bytes, bytearray)):
        data = tf.data.Dataset.from_tensor_slices(tf.constant(list(sources), dtype=tf.string))
    else:
        paths = tf.constant([str(s) for s in sources], dtype=tf.string)
        data = tf.data.Dataset.from_tensor_slices(paths).map(tf.io.read_file, num_parallel_calls=tf.data.AUTOTUNE)
    data = tf.data.Dataset.zip((data, ratio_data))
    data = data.map(lambda e, r: decode_image(e, image_size, preprocess, r), num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def describe_source(source: Source, names: Sequence[str] | None, index: int) -> str:
    """How an image is named in an error message."""
    if names is not None:
        return names[index]
    return str(source) if not isinstance(source, (bytes, bytearray)) else f"image #{index}"


def find_bad_image(sources: Sequence[Source], start: int, names: Sequence[str] | None) -> str:
    for index in range(start, len(sources)):
        source = sources[index]
        data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
        try:
            tf.io.decode_image(data, channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            return describe_source(source, names, index)
    return "an image"


def embed_images(
    sources: Sequence[Source],
    backbone: Backbone,
    *,
    batch_size: int = 64,
    names: Sequence[str] | None = None,
    sizes: Sequence[tuple[int, int]] | None = None,
    on_batch: Callable[[int, np.ndarray], None] | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Embed every source; returns float32 ``[len(sources), D]``.

    ``on_batch(start, embeddings)`` is called after each batch (the cache uses it to save as it goes);
    ``sizes`` (width, height per source) enables reduced-scale JPEG decoding.
    """
    batches = image_batches(
        sources, image_size=backbone.image_size, preprocess=backbone.preprocess, batch_size=batch_size, sizes=sizes
    )
    outputs: list[np.ndarray] = []
    done = 0
    bar = progress_bar(len(sources), "embedding", "img", enabled=progress)
    try:
        for batch in batches:
            embeddings = backbone(batch).numpy().astype(np.float32)
            if on_batch is not None:
                on_batch(done, embeddings)
            outputs.append(embeddings)
            done += len(embeddings)
            bar.update(len(embeddings))
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        raise EdgepruneError(f"{find_bad_image(sources, done, names)}: corrupt or truncated image") from None
    except tf.errors.NotFoundError as exc:
        raise EdgepruneError(f"cannot read image: {exc.message.splitlines()[0]}") from None
    finally:
        bar.close()
    if not outputs:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(outputs)
