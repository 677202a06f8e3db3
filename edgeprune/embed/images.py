"""Batched embedding: decode and resize in a parallel ``tf.data`` pipeline, one forward pass per batch.

Sources are file paths, encoded bytes, or :class:`RecordRef` examples in TFRecord files (read in the pipeline). A
corrupt or truncated image stops the pipeline; the failing batch is then checked image by image so the error names
the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from ..datasets.types import RecordRef, frame_runs
from ..errors import EdgepruneError
from ..images import ImageInfo, load_rgb, probe
from ..progress import progress as progress_bar
from .backbone import PREPROCESSING, Backbone

log = logging.getLogger(__name__)
Source = Path | bytes | RecordRef


def source_data(source: Source) -> Path | bytes:
    """What Pillow-based readers take: a path, or bytes (a TFRecord example's image is read now)."""
    return source.image_bytes() if isinstance(source, RecordRef) else source


def _read_record_image(file: bytes, offset: np.int64, length: np.int64) -> bytes:
    return RecordRef(file.decode(), int(offset), int(length)).image_bytes()


def image_source(img) -> Source:
    """An :class:`~edgeprune.datasets.ImageRecord`'s source for a pipeline: its path, its TFRecord example, or its
    held bytes, without reading anything."""
    if img.path is not None:
        return img.path
    return img.record if img.record is not None else img.encoded


def _whole_files(refs: Sequence[RecordRef]) -> list[str] | None:
    """The files ``refs`` make up, or None unless they are whole files, every record in order (the cold-cache case,
    which a ``TFRecordDataset`` reads sequentially in C++, however many files: by offset, each example is read and
    parsed in Python, which costs 40% of the embed stage's speed)."""
    runs = frame_runs(list(refs))
    if all(start == 0 and end == Path(file).stat().st_size for file, start, end in runs):
        return [file for file, _, _ in runs]
    return None


def _parse_image(raw: tf.Tensor) -> tf.Tensor:
    return tf.io.parse_single_example(raw, {"image/encoded": tf.io.FixedLenFeature([], tf.string)})["image/encoded"]


def encoded_images(sources: Sequence[Source]) -> tf.data.Dataset:
    """The encoded bytes of every source, in order, read inside the pipeline (never all held in memory, unless
    the sources are bytes already). TFRecord examples that make up whole files are read by ``TFRecordDataset``;
    any other set of examples by offset."""
    if sources and isinstance(sources[0], RecordRef):
        files = _whole_files(sources)
        if files is not None:
            return tf.data.TFRecordDataset(files).map(_parse_image, num_parallel_calls=tf.data.AUTOTUNE)
        refs = tf.data.Dataset.from_tensor_slices(
            (
                tf.constant([s.file for s in sources], tf.string),
                tf.constant([s.offset for s in sources], tf.int64),
                tf.constant([s.length for s in sources], tf.int64),
            )
        )

        def read(file, offset, length):
            data = tf.numpy_function(_read_record_image, [file, offset, length], tf.string, stateful=False)
            data.set_shape([])
            return data

        return refs.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    if sources and isinstance(sources[0], (bytes, bytearray)):
        return tf.data.Dataset.from_tensor_slices(tf.constant(list(sources), dtype=tf.string))
    paths = tf.constant([str(s) for s in sources], dtype=tf.string)
    return tf.data.Dataset.from_tensor_slices(paths).map(tf.io.read_file, num_parallel_calls=tf.data.AUTOTUNE)


JPEG_RATIOS = (1, 2, 4, 8)


def jpeg_ratio(width: int, height: int, image_size: int) -> int:
    """The largest libjpeg DCT downscale (1, 2, 4, 8) that still decodes at least ``image_size`` pixels."""
    shorter = min(width, height)
    return max((r for r in JPEG_RATIOS if shorter // r >= image_size), default=1)


def pil_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """:func:`edgeprune.images.load_rgb` inside a ``tf.data`` graph (images ``tf.io`` cannot decode upright)."""
    image = tf.numpy_function(lambda data: load_rgb(bytes(data)), [encoded], tf.uint8, stateful=False)
    image.set_shape([None, None, 3])
    return image


def decode_ratio(info: ImageInfo, image_size: int) -> int:
    """The DCT scale an image decodes at: :func:`jpeg_ratio` for images ``tf.io`` decodes, 1 for the rest."""
    return jpeg_ratio(info.width, info.height, image_size) if info.native else 1


def decode_rgb(encoded: tf.Tensor, native: tf.Tensor | bool = True, ratio: tf.Tensor | int = 1) -> tf.Tensor:
    """Upright RGB ``uint8`` pixels: ``tf.io`` for native images (JPEGs at ``1/ratio`` scale in the DCT domain,
    several times cheaper than a full decode and a large resize), :func:`pil_rgb` for the rest (EXIF-rotated,
    CMYK, 16-bit, WebP, ...), as :func:`edgeprune.images.probe` decided."""
    index = tf.argmax(tf.cast(tf.equal(tf.constant(JPEG_RATIOS, tf.int32), tf.cast(ratio, tf.int32)), tf.int32))
    branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r) for r in JPEG_RATIOS]

    def with_tf():
        return tf.cond(
            tf.io.is_jpeg(encoded),
            lambda: tf.switch_case(tf.cast(index, tf.int32), branches),
            lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False),
        )

    return tf.cond(tf.cast(native, tf.bool), with_tf, lambda: pil_rgb(encoded))


def decode_image(
    encoded: tf.Tensor, image_size: int, preprocess: str, ratio: tf.Tensor | int = 1, native: tf.Tensor | bool = True
) -> tf.Tensor:
    """Decode (:func:`decode_rgb`), resize to ``image_size`` square, scale as ``preprocess`` says."""
    scale, offset = PREPROCESSING[preprocess]
    image = tf.image.resize(decode_rgb(encoded, native, ratio), [image_size, image_size])
    return image * scale + offset


def decode_numpy(source: Source, name: str | None = None) -> np.ndarray:
    """One image as upright ``uint8`` ``[H, W, 3]`` outside a pipeline (evaluation, calibration), decoded exactly as
    the ``tf.data`` paths decode it."""
    source = source_data(source)
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if not probe(data, name or describe_source(source, None, 0)).native:
        return load_rgb(data, name)
    return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()


def image_batches(
    sources: Sequence[Source],
    *,
    image_size: int,
    preprocess: str = "unit",
    batch_size: int = 64,
    names: Sequence[str] | None = None,
    infos: Sequence[ImageInfo] | None = None,
    full_scale: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of preprocessed float32 batches ``[B, S, S, 3]``, in order, with prefetch.

    Each image's header is read first (:func:`edgeprune.images.probe`; pass ``infos`` when the caller has them
    already): a bad image is named before any work, and upright JPEGs decode at a reduced scale, unless
    ``full_scale`` (the pixels :func:`decode_numpy` and a resize give, as an exported detector is fed).
    """
    if infos is None:
        infos = [probe(source_data(s), describe_source(s, names, i)) for i, s in enumerate(sources)]
    ratios = [1 if full_scale else decode_ratio(info, image_size) for info in infos]
    flags = tf.data.Dataset.from_tensor_slices(
        (tf.constant(ratios, tf.int32), tf.constant([info.native for info in infos], tf.bool))
    )
    data = tf.data.Dataset.zip((encoded_images(sources), flags))
    data = data.map(
        lambda e, f: decode_image(e, image_size, preprocess, f[0], f[1]), num_parallel_calls=tf.data.AUTOTUNE
    )
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def describe_source(source: Source, names: Sequence[str] | None, index: int) -> str:
    """How an image is named in an error message."""
    if names is not None:
        return names[index]
    if isinstance(source, RecordRef):
        return f"{source.file} (record at byte {source.offset})"
    return str(source) if not isinstance(source, (bytes, bytearray)) else f"image #{index}"


def find_bad_image(sources: Sequence[Source], start: int, names: Sequence[str] | None) -> str:
    """The first source from ``start`` that does not decode the way the pipeline decodes it (:func:`decode_numpy`:
    ``tf.io`` or Pillow), for the error message after a batch failed."""
    for index in range(start, len(sources)):
        source = sources[index]
        try:
            decode_numpy(source, describe_source(source, names, index))
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError, EdgepruneError):
            return describe_source(source, names, index)
    return "an image"


def embed_images(
    sources: Sequence[Source],
    backbone: Backbone,
    *,
    batch_size: int = 64,
    names: Sequence[str] | None = None,
    on_batch: Callable[[int, np.ndarray], None] | None = None,
    progress: bool = True,
    infos: Sequence[ImageInfo] | None = None,
    keep: bool = True,
) -> np.ndarray:
    """Embed every source; returns float32 ``[len(sources), D]``.

    ``on_batch(start, embeddings)`` is called after each batch (the cache uses it to save as it goes); ``infos``:
    the sources' headers, when the caller has read them; ``keep=False``: ``on_batch`` keeps the rows, and the
    return value is an empty ``[0, 0]`` array instead of a second copy of them.
    """
    batches = image_batches(
        sources,
        image_size=backbone.image_size,
        preprocess=backbone.preprocess,
        batch_size=batch_size,
        names=names,
        infos=infos,
    )
    outputs: list[np.ndarray] = []
    done = 0
    bar = progress_bar(len(sources), "embedding", "img", enabled=progress)
    try:
        for batch in batches:
            embeddings = backbone.embed_padded(batch, batch_size)
            if on_batch is not None:
                on_batch(done, embeddings)
            if keep:
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
