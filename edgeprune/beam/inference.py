"""Beam transforms for embedding: image bytes in, decoded pixels through ``RunInference``, embeddings out.

Decoding calls :func:`edgeprune.embed.images.decode_image` with the same header probe as the local ``tf.data``
pipeline, so both runners feed the backbone the same pixels. ``BackboneHandler`` is a small ``ModelHandler`` that
loads the backbone with :func:`edgeprune.embed.load_backbone` (Beam's ``TFModelHandlerTensor`` fails under Keras 3,
apache/beam#30616).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult


class BackboneHandler(ModelHandler):
    """``RunInference`` handler: a batch of ``[S, S, 3]`` float32 arrays -> one embedding per image."""

    def __init__(self, handle: str, image_size: int, preprocess: str, batch_size: int) -> None:
        super().__init__()
        self.handle, self.image_size, self.preprocess, self.batch_size = handle, image_size, preprocess, batch_size

    def load_model(self):
        from ..embed import load_backbone

        return load_backbone(self.handle, image_size=self.image_size, preprocess=self.preprocess)

    def run_inference(
        self, batch: Sequence[np.ndarray], model, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        outputs = model.embed_padded(np.stack(batch), self.batch_size)  # the local run's batch shape
        return [PredictionResult(example, output) for example, output in zip(batch, outputs)]

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self.batch_size}

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(example.nbytes for example in batch)


class Decoder:
    """``(index, name, encoded bytes) -> (index, pixels)``; a bad image raises, and the caller's
    ``with_exception_handling`` sends it to the dead-letter output."""

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

    def __call__(self, element: tuple[int, str, bytes]) -> tuple[int, np.ndarray]:
        from ..embed.images import decode_ratio
        from ..images import probe

        index, name, data = element
        info = probe(data, name)
        return index, self._function()(data, decode_ratio(info, self.image_size), info.native).numpy()

    def __getstate__(self):
        return {"image_size": self.image_size, "preprocess": self.preprocess, "_decode": None}


def read_file(element: tuple[int, str, str]) -> tuple[int, str, bytes]:
    """``(index, name, path) -> (index, name, bytes)`` through Beam's filesystems (local paths or URIs)."""
    from apache_beam.io.filesystems import FileSystems

    index, name, path = element
    with FileSystems.open(path) as handle:
        return index, name, handle.read()


def read_shard(element: tuple[str, int, list[str]]) -> Iterator[tuple[int, str, bytes]]:
    """``(shard path, index of its first record, names) -> (index, name, image/encoded)`` for every record."""
    import tensorflow as tf

    path, start, names = element
    for position, raw in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
        feature = tf.train.Example.FromString(raw).features.feature
        yield start + position, names[position], feature["image/encoded"].bytes_list.value[0]


def embedding_example(element: tuple[int, PredictionResult]) -> bytes:
    """One embedding as a serialised ``tf.train.Example`` with ``index`` (int64) and ``embedding`` (floats)."""
    import tensorflow as tf

    index, result = element
    vector = np.asarray(result.inference, np.float32)
    feature = {
        "index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
        "embedding": tf.train.Feature(float_list=tf.train.FloatList(value=vector)),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_embedding(raw: bytes) -> tuple[int, np.ndarray]:
    """The inverse of :func:`embedding_example`."""
    import tensorflow as tf

    feature = tf.train.Example.FromString(raw).features.feature
    return int(feature["index"].int64_list.value[0]), np.asarray(feature["embedding"].float_list.value, np.float32)


def read_embeddings(files: Sequence[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, embeddings)`` from embedding TFRecord shards, sorted by index (batched ``tf.io.parse_example``)."""
    import tensorflow as tf

    if not files:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    spec = {
        "index": tf.io.FixedLenFeature([], tf.int64),
        "embedding": tf.io.FixedLenFeature([dim], tf.float32),
    }
    data = tf.data.TFRecordDataset(list(files)).batch(4096).map(lambda raw: tf.io.parse_example(raw, spec))
    indices, rows = [], []
    for batch in data.as_numpy_iterator():
        indices.append(batch["index"])
        rows.append(batch["embedding"])
    if not indices:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    indices, rows = np.concatenate(indices), np.concatenate(rows)
    order = np.argsort(indices, kind="stable")
    return indices[order], rows[order]
