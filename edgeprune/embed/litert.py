"""Embedding with LiteRT (``--embed-runtime litert`` or ``litert-int8``): the backbone converted once to a
``.tflite`` file, run by the LiteRT interpreter with XNNPACK on every core.

- ``litert``: float32, the same network; embeddings equal TensorFlow's within float rounding.
- ``litert-int8``: weights and activations in int8 (float input and output), calibrated on a seeded sample of the
  dataset's own images. About 2x faster on CPUs with VNNI. Quantization moves every embedding a little, so before
  use, the neighbourhoods are checked against TensorFlow's on another seeded sample: the share of each image's 10
  nearest neighbours (in curation's cosine space) that both runtimes find must be at least
  :data:`MIN_AGREEMENT`, or the run stops and says so.

Converted models are cached in ``<cache>/litert/``, keyed by the backbone's key, the runtime and (int8) the
calibration images' content, written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_file
from ..errors import EdgepruneError, first_line
from ..vectors import center, l2_normalize
from .backbone import Backbone

log = logging.getLogger(__name__)
RUNTIMES = ("tf", "litert", "litert-int8")
CALIBRATION_IMAGES = 128
CHECK_IMAGES = 512
NEIGHBOURS = 10
MIN_AGREEMENT = 0.95
FORMAT = "v1"  # bump when the conversion changes: old cached models are then left alone


@dataclass
class LiteRTBackbone:
    """A converted backbone with :class:`Backbone`'s interface (``embed_padded``, ``image_size``, ``preprocess``,
    ``key``), so the embedding pipeline and its cache run it unchanged."""

    handle: str
    model_path: Path
    image_size: int
    preprocess: str
    key: str
    runtime: str
    threads: int
    agreement: float | None = None  # 10-NN agreement with TensorFlow's embeddings (int8 only)
    checked: int = 0  # images the agreement was measured on
    interpreters: int = 1  # >1: that many interpreters of threads // interpreters threads, each on part of a batch
    _pool: list = field(default_factory=list, repr=False)
    _part: int = 0

    @property
    def runtime_note(self) -> str:
        """One line for the summary: the runtime and, for int8, how well it keeps TensorFlow's neighbourhoods."""
        note = f"embedded with LiteRT ({self.runtime}, {self.threads} threads, {self.model_path.name})"
        if self.agreement is not None:
            note += f"; {NEIGHBOURS}-NN agreement with tf {self.agreement:.3f} over {self.checked} images"
        return note

    def _ready(self, part: int) -> list:
        """The interpreters, their inputs resized to ``part`` rows (once; resizing reallocates)."""
        from ai_edge_litert.interpreter import Interpreter

        if len(self._pool) != self.interpreters:
            self._part = 0
            threads = max(1, self.threads // self.interpreters)
            self._pool = [
                Interpreter(model_path=str(self.model_path), num_threads=threads) for _ in range(self.interpreters)
            ]
        if self._part != part:
            for interpreter in self._pool:
                index = interpreter.get_input_details()[0]["index"]
                interpreter.resize_tensor_input(index, [part, self.image_size, self.image_size, 3])
                interpreter.allocate_tensors()
            self._part = part
        return self._pool

    @staticmethod
    def _invoke(interpreter, rows: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], rows)
        interpreter.invoke()  # releases the GIL: parallel interpreters run on their own cores
        return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), np.float32)

    def embed_padded(self, images, batch_size: int) -> np.ndarray:
        """Embed ``images`` (float32 ``[N, S, S, 3]``, preprocessed) in invocations of exactly ``batch_size`` rows
        (split between the interpreters), the last one zero-padded, as :meth:`Backbone.embed_padded` does."""
        from concurrent.futures import ThreadPoolExecutor

        images = np.asarray(images, np.float32)
        part = -(-batch_size // self.interpreters)
        pool = self._ready(part)
        outputs = []
        with ThreadPoolExecutor(len(pool)) as workers:
            for start in range(0, len(images), batch_size):
                chunk = images[start : start + batch_size]
                rows = len(chunk)
                if rows < part * len(pool):
                    chunk = np.concatenate([chunk, np.zeros((part * len(pool) - rows, *chunk.shape[1:]), np.float32)])
                parts = [chunk[i * part : (i + 1) * part] for i in range(len(pool))]
                outputs.append(np.concatenate(list(workers.map(self._invoke, pool, parts)))[:rows])
        return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def _convert(backbone: Backbone, calibration: list[np.ndarray] | None) -> bytes:
    """The backbone's embedding function as a ``.tflite`` flatbuffer; int8 where ``calibration`` batches are given."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, backbone.image_size, backbone.image_size, 3], tf.float32)
    concrete = tf.function(backbone.function).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], backbone.module)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for batch in calibration for image in batch)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError ...
        raise EdgepruneError(
            f"{backbone.handle}: cannot convert the backbone for LiteRT ({first_line(exc)}); use embed_runtime=tf"
        ) from None


def _sample(count: int, size: int, seed: int) -> np.ndarray:
    """A seeded sample of ``size`` indices of ``count``, sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, min(size, count), replace=False))


def _batches(dataset, indices: np.ndarray, backbone: Backbone) -> list[np.ndarray]:
    """The images at ``indices``, preprocessed as the embedding pipeline does, in batches."""
    from .images import image_batches, image_source

    sources = [image_source(dataset.images[i]) for i in indices]
    names = [dataset.images[i].file_name for i in indices]
    data = image_batches(sources, image_size=backbone.image_size, preprocess=backbone.preprocess, names=names)
    return [batch.numpy() for batch in data]


def neighbour_agreement(first: np.ndarray, second: np.ndarray, k: int = NEIGHBOURS) -> float:
    """The mean share of each row's ``k`` nearest neighbours (cosine, after centring as curation does) that both
    embeddings of the same rows find; blocks of rows, so 17k images need no 17k x 17k matrix."""
    k = min(k, len(first) - 1)
    if k < 1:
        return 1.0
    units = [l2_normalize(center(matrix)) for matrix in (first, second)]
    shared = 0
    for start in range(0, len(first), 2048):
        rows = np.arange(start, min(len(first), start + 2048))
        found = []
        for unit in units:
            similarity = unit[rows] @ unit.T
            similarity[np.arange(len(rows)), rows] = -np.inf
            found.append(np.argpartition(-similarity, k, axis=1)[:, :k])
        shared += sum(len(np.intersect1d(a, b)) for a, b in zip(*found))
    return float(shared / (k * len(first)))


def litert_backbone(
    backbone: Backbone, runtime: str, dataset, cache_dir: Path, *, seed: int = 0, batch_size: int = 64
) -> LiteRTBackbone:
    """``backbone`` converted for ``runtime`` (cached), calibrated on ``dataset`` for int8 and checked against
    TensorFlow's neighbourhoods (see the module docstring)."""
    if runtime not in RUNTIMES[1:]:
        raise EdgepruneError(f"embed_runtime={runtime} is not one of {', '.join(RUNTIMES)}")

    int8 = runtime == "litert-int8"
    calibration_ids = _sample(len(dataset), CALIBRATION_IMAGES, seed) if int8 else np.zeros(0, np.int64)
    digest = hashlib.sha256(f"{backbone.key}|{runtime}|{FORMAT}".encode())
    for i in calibration_ids:
        digest.update(dataset.images[i].content()[0].encode())
    key = digest.hexdigest()[:20]
    path = cache_dir / "litert" / f"{key}.tflite"
    if not path.is_file():
        calibration = _batches(dataset, calibration_ids, backbone) if int8 else None
        log.info("converting the backbone for %s%s", runtime, f" ({len(calibration_ids)} images)" if int8 else "")
        model = _convert(backbone, calibration)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            Path(tmp).write_bytes(model)
    threads = max(1, len(os.sched_getaffinity(0)))
    converted = LiteRTBackbone(backbone.handle, path, backbone.image_size, backbone.preprocess, key, runtime, threads)
    if int8:
        check = _sample(len(dataset), CHECK_IMAGES, seed + 1)
        images = np.concatenate(_batches(dataset, check, backbone))
        converted.checked = len(check)
        converted.agreement = neighbour_agreement(
            backbone.embed_padded(images, batch_size), converted.embed_padded(images, batch_size)
        )
        log.info("%s: 10-NN agreement with tf %.3f over %d images", runtime, converted.agreement, len(check))
        if converted.agreement < MIN_AGREEMENT:
            raise EdgepruneError(
                f"embed_runtime={runtime}: int8 keeps {converted.agreement:.2f} of TensorFlow's {NEIGHBOURS} nearest "
                f"neighbours over {len(check)} images (at least {MIN_AGREEMENT} needed); use embed_runtime=litert"
            )
    return converted
