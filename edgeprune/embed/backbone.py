"""Loading an image-embedding backbone through TensorFlow Hub.

``handle`` is anything ``hub.load`` takes: a tfhub.dev / Kaggle handle, a URL, or a local SavedModel directory.
The loaded object is called on a float32 batch ``[N, H, W, 3]``; a ``serving_default`` signature is used when the
object itself is not callable. Feature-map outputs ``[N, h, w, C]`` are average-pooled to ``[N, C]``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from ..errors import EdgepruneError, first_line

log = logging.getLogger(__name__)

PREPROCESSING = {
    "unit": (1.0 / 255.0, 0.0),  # [0, 1]: the TF Hub image convention
    "symmetric": (2.0 / 255.0, -1.0),  # [-1, 1]: MobileNet/Inception style
    "raw": (1.0, 0.0),  # [0, 255]
}
_OUTPUT_KEYS = ("default", "embedding", "embeddings", "feature_vector", "pooled_output", "output_0")


@dataclass
class Backbone:
    """A loaded backbone: the batch function, its input size and preprocessing, and a key that identifies it."""

    handle: str
    function: Callable[[tf.Tensor], tf.Tensor]
    image_size: int
    preprocess: str
    key: str
    module: object = None  # the loaded SavedModel; holding it keeps its variables alive for signature calls

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """Embed a preprocessed float32 batch ``[N, S, S, 3]`` into ``[N, D]``."""
        return self.function(images)

    def embed_padded(self, images: tf.Tensor | np.ndarray, batch_size: int) -> np.ndarray:
        """Embed ``images`` in forward passes of exactly ``batch_size`` rows (the last one zero-padded), as float32.

        oneDNN picks its convolution kernels by shape, so one image's embedding of a large network can differ in the
        fifth decimal between a batch of 64 and one of 17; a fixed shape makes every image's embedding independent
        of how the images were batched (the local tf.data batches, Beam's ``BatchElements``)."""
        images = tf.convert_to_tensor(images, tf.float32)
        outputs = []
        for start in range(0, int(images.shape[0]), batch_size):
            chunk = images[start : start + batch_size]
            rows = int(chunk.shape[0])
            if rows < batch_size:
                chunk = tf.concat([chunk, tf.zeros([batch_size - rows, *chunk.shape[1:]], chunk.dtype)], axis=0)
            outputs.append(self.function(chunk).numpy()[:rows].astype(np.float32))
        return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def backbone_identity(handle: str) -> str:
    """A string that changes whenever the backbone's weights change: file digests for a local SavedModel."""
    path = Path(handle)
    if not path.is_dir():
        return handle
    digest = hashlib.sha256()
    for name in ("saved_model.pb", "variables/variables.index"):
        part = path / name
        if part.is_file():
            digest.update(part.read_bytes())
    return f"local:{digest.hexdigest()}"


def _pick_output(outputs) -> tf.Tensor:
    if isinstance(outputs, dict):
        for key in _OUTPUT_KEYS:
            if key in outputs:
                return outputs[key]
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        raise EdgepruneError(f"backbone returns several outputs {sorted(outputs)}; cannot tell which is the embedding")
    if isinstance(outputs, (list, tuple)):
        return outputs[0]
    return outputs


def _call_function(loaded) -> Callable[[tf.Tensor], tf.Tensor]:
    if callable(loaded):
        return loaded
    signature = getattr(loaded, "signatures", {}).get("serving_default")
    if signature is None:
        raise EdgepruneError("backbone is neither callable nor has a serving_default signature")
    input_names = list(signature.structured_input_signature[1])
    if len(input_names) != 1:
        raise EdgepruneError(f"backbone signature takes inputs {input_names}, expected exactly one image input")
    name = input_names[0]
    return lambda images: signature(**{name: images})


DEFAULT_IMAGE_SIZE = 224


def _image_specs(loaded) -> list[tf.TensorSpec]:
    """The image input specs the loaded object declares: its call function's traces, or its serving signature."""
    specs = []
    call = loaded.__call__ if callable(loaded) else None
    for concrete in getattr(call, "concrete_functions", None) or []:
        args = concrete.structured_input_signature[0]
        if args and isinstance(args[0], tf.TensorSpec):
            specs.append(args[0])
    signature = getattr(loaded, "signatures", {}).get("serving_default")
    if not specs and signature is not None:
        inputs = list(signature.structured_input_signature[1].values())
        specs.extend(spec for spec in inputs[:1] if isinstance(spec, tf.TensorSpec))
    return specs


def fixed_input_size(loaded) -> int | None:
    """The square input size a backbone was saved for (e.g. 96 from ``[None, 96, 96, 3]``); None if it takes any."""
    sizes = set()
    for spec in _image_specs(loaded):
        if spec.shape.rank != 4:
            continue
        height, width = spec.shape[1], spec.shape[2]
        if height is None or width is None:
            return None  # one trace takes any size
        sizes.add((int(height), int(width)))
    if len(sizes) == 1:
        height, width = sizes.pop()
        return height if height == width else None
    return None


def load_backbone(handle: str | Path, *, image_size: int | None = None, preprocess: str = "unit") -> Backbone:
    """Load ``handle`` with ``tensorflow_hub.load`` and check that it maps a tiny batch to ``[N, D]``.

    ``image_size`` None takes the size the SavedModel declares (a fixed ``[None, S, S, 3]`` input), else 224.
    A size that contradicts the declared one is an error naming both.
    """
    import tensorflow_hub as hub

    if preprocess not in PREPROCESSING:
        raise EdgepruneError(f"unknown preprocessing {preprocess!r}; choose one of {', '.join(PREPROCESSING)}")
    if image_size is not None and image_size < 16:
        raise EdgepruneError(f"image size must be at least 16 pixels, got {image_size}")
    handle = str(handle)
    if "://" not in handle and not Path(handle).exists() and Path(handle).is_absolute():
        raise EdgepruneError(f"{handle}: backbone directory does not exist")
    try:
        loaded = hub.load(handle)
    except Exception as exc:  # hub raises many types (OSError, ValueError, URLError, protobuf errors)
        raise EdgepruneError(f"{handle}: cannot load backbone with tensorflow_hub ({first_line(exc)})") from None
    call = _call_function(loaded)
    declared = fixed_input_size(loaded)
    if image_size is None:
        image_size = declared or DEFAULT_IMAGE_SIZE
    elif declared is not None and declared != image_size:
        raise EdgepruneError(
            f"{handle}: the backbone takes {declared}x{declared} images, but --image-size is {image_size}; "
            f"use --image-size {declared} or leave it out"
        )

    def function(images: tf.Tensor) -> tf.Tensor:
        features = _pick_output(call(images))
        if features.shape.rank == 4:
            features = tf.reduce_mean(features, axis=[1, 2])
        return features

    probe = tf.zeros([1, image_size, image_size, 3], tf.float32)
    try:
        out = function(probe)
    except Exception as exc:  # a backbone that cannot take this input shape or dtype
        raise EdgepruneError(
            f"{handle}: backbone fails on a [1, {image_size}, {image_size}, 3] float32 batch ({first_line(exc)})"
        )
    if out.shape.rank != 2:
        raise EdgepruneError(f"{handle}: backbone returns shape {out.shape}, expected [N, D] or [N, h, w, D]")
    key_source = f"{backbone_identity(handle)}|{image_size}|{preprocess}"
    key = hashlib.sha256(key_source.encode()).hexdigest()[:20]
    log.info("loaded backbone %s: %d-d embedding at %dpx", handle, out.shape[1], image_size)
    graph_function = tf.function(function, input_signature=[tf.TensorSpec([None, image_size, image_size, 3])])
    return Backbone(handle, graph_function, image_size, preprocess, key, module=loaded)
