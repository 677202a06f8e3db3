"""The embed stage's worker code: a unit of images in, its embeddings, k-means sample and dead letters out as files.

Every transform here runs on any Beam runner, Beam's Dask runner included. That runner translates only ``Create``,
``ParDo``, ``GroupByKey`` and ``Flatten``, and drops what the other stage designs lean on:
- ``Read`` transforms (``ReadFromText``, ``ReadFromTFRecord``) become no-ops, so a unit is a file path given to
  ``Create`` and read by the worker;
- outputs a ``DoFn`` emits in ``finish_bundle`` are lost, which empties ``BatchElements`` and so ``RunInference``:
  the worker batches a unit itself, in forward passes of ``batch_size`` images;
- tagged outputs are merged into the main output, so ``with_exception_handling`` cannot split off bad images: the
  worker catches a bad image and lists it in the unit's dead-letter file.

Decoding calls :func:`edgeprune.embed.images.decode_image` with the same header probe as the local ``tf.data``
pipeline, and :meth:`~edgeprune.embed.backbone.Backbone.embed_padded` pads every forward pass to the local batch
shape, so both runners give the backbone the same pixels and get the same embeddings back.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from typing import Iterator, Sequence

import apache_beam as beam
import numpy as np

from ..datasets.example_proto import image_bytes
from ..uris import use_filesystem_options
from .workdir import join, matching, read_bytes, write_bytes


@functools.lru_cache(maxsize=2)
def cached_backbone(handle: str, image_size: int, preprocess: str):
    """The backbone, loaded once per worker process (Dask sets a ``DoFn`` up again for every partition)."""
    from ..embed import load_backbone

    return load_backbone(handle, image_size=image_size, preprocess=preprocess)


class Decoder:
    """``(name, encoded bytes) -> [S, S, 3] float32 pixels``, the local pipeline's decode; a bad image raises."""

    def __init__(self, image_size: int, preprocess: str) -> None:
        self.image_size, self.preprocess = image_size, preprocess
        self._decode = None

    def _function(self):
        if self._decode is None:
            import tensorflow as tf

            from ..embed.images import decode_image

            spec = [tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.bool)]

            @tf.function(input_signature=spec)
            def decode(data, ratio, native):
                return decode_image(data, self.image_size, self.preprocess, ratio, native)

            self._decode = decode
        return self._decode

    def __call__(self, name: str, data: bytes) -> np.ndarray:
        from ..embed.images import decode_ratio
        from ..images import probe

        info = probe(data, name)
        return self._function()(data, decode_ratio(info, self.image_size), info.native).numpy()

    def __getstate__(self):
        return {"image_size": self.image_size, "preprocess": self.preprocess, "_decode": None}


def tfrecord_payloads(data: bytes, source: str) -> Iterator[bytes]:
    """The records of TFRecord file contents (length, masked CRC, payload, masked CRC each); a truncated file raises
    ``ValueError`` naming ``source``."""
    position = 0
    while position < len(data):
        if position + 12 > len(data):
            raise ValueError(f"{source}: truncated TFRecord header at byte {position}")
        (length,) = struct.unpack_from("<Q", data, position)
        start, end = position + 12, position + 12 + length
        if end + 4 > len(data):
            raise ValueError(f"{source}: truncated TFRecord at byte {position}")
        yield data[start:end]
        position = end + 4


def unit_images(unit: dict) -> Iterator[tuple[int, str, bytes | Exception]]:
    """``(index, name, encoded bytes or the error that stopped reading them)`` for every image of a unit."""
    if "shard" not in unit:
        for index, name, path in unit["rows"]:
            try:
                yield index, name, read_bytes(path)
            except Exception as exc:  # noqa: BLE001 - a dead letter names any reason
                yield index, name, exc
        return
    try:
        payloads: list = list(tfrecord_payloads(read_bytes(unit["shard"]), unit["shard"]))
    except (OSError, ValueError) as exc:
        payloads = []
        missing: Exception = exc
    else:
        missing = ValueError(f"{unit['shard']}: fewer records than the annotations read")
    for position, name in enumerate(unit["names"]):
        try:
            yield unit["start"] + position, name, image_bytes(payloads[position])
        except IndexError:
            yield unit["start"] + position, name, missing
        except Exception as exc:  # noqa: BLE001 - a record that does not parse is a dead letter
            yield unit["start"] + position, name, exc


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


class EmbedUnit(beam.DoFn):
    """Embed one unit file: writes ``embeddings-U.npz`` (indices, float32 rows), ``sample-U.npz`` (the rows in the
    k-means sample) and ``bad_images-U.jsonl``, and emits ``(sum of the rows in float64, count)`` for the mean.

    File names are the unit's, so a retried unit overwrites its own files."""

    def __init__(self, out_dir: str, backbone, batch_size: int, in_sample, beam_options=None) -> None:
        self.out_dir, self.batch_size, self.in_sample = out_dir, batch_size, in_sample
        self.beam_options = beam_options
        self.handle, self.image_size, self.preprocess = backbone.handle, backbone.image_size, backbone.preprocess

    def setup(self) -> None:
        use_filesystem_options(self.beam_options)
        self.model = cached_backbone(self.handle, self.image_size, self.preprocess)
        self.decoder = Decoder(self.image_size, self.preprocess)

    def process(self, unit_path: str):
        unit = json.loads(read_bytes(unit_path))
        name = f"{unit['unit']:06d}"
        indices, rows, failures, batch = [], [], [], []
        for index, image_name, data in unit_images(unit):
            try:
                if isinstance(data, Exception):
                    raise data
                batch.append((index, self.decoder(image_name, data)))
            except Exception as exc:  # noqa: BLE001 - a bad image is a dead letter, not a failed stage
                failures.append({"index": index, "name": image_name, "error": _error(exc)})
            if len(batch) == self.batch_size:
                self._embed(batch, indices, rows)
        self._embed(batch, indices, rows)
        vectors = np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
        index_array = np.asarray(indices, np.int64)
        write_embeddings(join(self.out_dir, f"embeddings-{name}.npz"), index_array, vectors)
        sampled = np.array([self.in_sample(i) for i in indices], bool)
        if sampled.any():
            write_embeddings(join(self.out_dir, f"sample-{name}.npz"), index_array[sampled], vectors[sampled])
        if failures:
            text = "".join(json.dumps(row) + "\n" for row in failures)
            write_bytes(join(self.out_dir, f"bad_images-{name}.jsonl"), text.encode())
        if len(vectors):
            yield vectors.sum(axis=0, dtype=np.float64), len(vectors)

    def _embed(self, batch: list, indices: list, rows: list) -> None:
        if batch:
            indices += [index for index, _ in batch]
            rows.append(self.model.embed_padded(np.stack([pixels for _, pixels in batch]), self.batch_size))
            batch.clear()


def write_embeddings(path: str, indices: np.ndarray, rows: np.ndarray) -> None:
    """``indices`` and their embedding ``rows`` as one ``.npz`` file on any Beam filesystem."""
    buffer = io.BytesIO()
    np.savez(buffer, indices=np.asarray(indices, np.int64), embeddings=np.asarray(rows, np.float32))
    write_bytes(path, buffer.getvalue())


def read_embeddings(files: Sequence[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, embeddings)`` from :func:`write_embeddings` files, sorted by index (a unit written twice by a
    retry counts once)."""
    indices, rows = [np.zeros(0, np.int64)], [np.zeros((0, dim), np.float32)]
    for path in files:
        with np.load(io.BytesIO(read_bytes(path))) as saved:
            if len(saved["indices"]):
                indices.append(saved["indices"])
                rows.append(saved["embeddings"])
    index, unique = np.unique(np.concatenate(indices), return_index=True)
    return index, np.concatenate(rows)[unique]


def unit_files(stage_path: str, prefix: str) -> list[str]:
    """The files ``<prefix>-*`` of a stage folder, sorted."""
    return matching(join(stage_path, f"{prefix}-*"))
