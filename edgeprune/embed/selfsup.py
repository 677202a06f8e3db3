"""``edgeprune pretrain``: a MobileNetV2 encoder trained from scratch with SimCLR's NT-Xent loss, saved for TF Hub.

The encoder is Model Garden's MobileNetV2 backbone (``official.vision.modeling.backbones.MobileNet``), the very
class the detector of ``train-export`` uses, so the saved encoder checkpoint initialises the detector's backbone
directly (``--init-backbone``). Output directory::

    saved_model.pb, variables/   TF-Hub-compatible SavedModel: float32 [N, H, W, 3] in [0, 1] -> [N, D]
    backbone.json                image size, width, embedding dim, training-data hash, loss curve
    encoder/ckpt.*               tf.train.Checkpoint(backbone=...) of the encoder alone

Training runs in ``<out>.partial/`` with checkpoints, so an interrupted run resumes; the finished directory is
renamed into place atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..atomic import check_output_dir, partial_dir, publish_dir
from ..datasets import Dataset
from ..errors import EdgepruneError
from ..images import load_rgb
from ..progress import progress as progress_bar
from .augment import simclr_view

log = logging.getLogger(__name__)

SUPPORTED_SIZES = (96, 128, 160, 224)
WIDTH_RANGE = (0.35, 1.0)
FEATURE_ENDPOINT = "6"
FORMAT_NAME = "edgeprune-selfsup-v1"
ENCODER_CHECKPOINT = "encoder/ckpt"
DEFAULT_STEPS = 300
# built-in backbone: images it pretrains on, at most (a seeded sample of a larger dataset). 300 steps of 64 pairs see
# 19,200 images, so more would only be decoded into the training store, never trained on: at a million 640x480
# frames that decoding alone took 78 minutes.
PRETRAIN_SAMPLE = 20_000


@dataclass
class PretrainConfig:
    """Training settings; the defaults take a few minutes on 2 CPU cores."""

    steps: int = DEFAULT_STEPS
    image_size: int = 96
    width: float = 0.35
    batch_size: int = 64
    seed: int = 0
    crops: bool = False
    temperature: float = 0.2
    min_crop_scale: float = 0.5  # 0.25 destroyed small images (digits k-NN 0.33 vs 0.59 at 0.5)
    flip: bool = True
    learning_rate: float = 2e-3
    projection_dim: int = 128
    # >0: that many clean images' statistics replace batch norm's moving averages after training (off: it spreads
    # the embeddings from 5e-5 to 0.3 of their length, but BCCD crops' 5-NN fell from 0.980 to 0.967)
    batch_norm_images: int = 0
    checkpoint_every: int = 100

    def validate(self) -> None:
        """Raise :class:`EdgepruneError` for settings the architecture or the loss cannot take."""
        if self.image_size not in SUPPORTED_SIZES:
            raise EdgepruneError(
                f"--image-size must be one of {', '.join(map(str, SUPPORTED_SIZES))} "
                f"(MobileNetV2 input sizes), got {self.image_size}"
            )
        if not WIDTH_RANGE[0] <= self.width <= WIDTH_RANGE[1]:
            raise EdgepruneError(f"width={self.width} must be in [{WIDTH_RANGE[0]}, {WIDTH_RANGE[1]}]")
        if self.batch_size < 2:
            raise EdgepruneError(f"batch_size={self.batch_size} must be at least 2 (contrastive pairs)")
        if not 0.05 <= self.min_crop_scale <= 1.0:
            raise EdgepruneError(f"min_crop_scale={self.min_crop_scale} must be in [0.05, 1]")
        if self.steps < 1:
            raise EdgepruneError(f"steps={self.steps} must be at least 1")
        if self.batch_norm_images < 0:
            raise EdgepruneError(f"batch_norm_images={self.batch_norm_images} must be 0 (off) or more")


@dataclass
class PretrainResult:
    """What ``pretrain`` produced."""

    out: Path
    embedding_dim: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0


def build_encoder(width: float):
    """Model Garden's MobileNetV2 backbone at ``width`` (random init), fully convolutional."""
    import tf_keras
    from official.vision.modeling.backbones import mobilenet

    return mobilenet.MobileNet(
        model_id="MobileNetV2",
        filter_size_scale=width,
        input_specs=tf_keras.layers.InputSpec(shape=[None, None, None, 3]),
    )


def embed_with(encoder, images: tf.Tensor, *, training: bool = False) -> tf.Tensor:
    """Pooled encoder features of float images in [0, 1] (scaled to MobileNet's [-1, 1] inside)."""
    features = encoder(images * 2.0 - 1.0, training=training)[FEATURE_ENDPOINT]
    return tf.reduce_mean(features, axis=[1, 2])


class HubEmbedder(tf.Module):
    """The exported module: ``__call__(images [N, H, W, 3] float32 in [0, 1]) -> [N, D]``."""

    def __init__(self, encoder) -> None:
        super().__init__()
        self.encoder = encoder

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        return embed_with(self.encoder, images)


def nt_xent(z1: tf.Tensor, z2: tf.Tensor, temperature: float) -> tf.Tensor:
    """SimCLR's normalised-temperature cross-entropy over the 2B views; positives are the paired views."""
    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=1)
    n = tf.shape(z1)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits -= tf.eye(2 * n) * 1e9
    targets = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))


MAX_CROPS = 20000  # crops mode: object crops trained on, at most


def crop_regions_for_pretraining(dataset: Dataset, *, max_crops: int = MAX_CROPS) -> list[list[tuple]]:
    """Per image, the padded box regions ``crops`` mode trains on (boxes of at least 2 px), up to ``max_crops`` in
    all (the image that reaches the cap is taken whole); computed from the annotations alone."""
    regions, total = [], 0
    for img in dataset.images:
        if total >= max_crops:
            regions.append([])
            continue
        mine = []
        for box in img.boxes:
            x, y, w, h = box.bbox
            if w < 2 or h < 2:
                continue
            pad = 0.1 * max(w, h)
            mine.append((x - pad, y - pad, x + w + pad, y + h + pad))
        regions.append(mine)
        total += len(mine)
    return regions


def count_training_images(dataset: Dataset, config: PretrainConfig) -> int:
    """How many images (or crops) pretraining trains on, without reading a pixel."""
    if not config.crops:
        return len(dataset)
    return sum(len(r) for r in crop_regions_for_pretraining(dataset))


def check_training_count(dataset: Dataset, config: PretrainConfig, count: int) -> None:
    """Refuse a training set of fewer than 2 images (or crops), saying which is missing."""
    if count == 0:
        what = "object boxes (use whole images, without --crops)" if config.crops else "images"
        raise EdgepruneError(f"{dataset.source}: no {what} to pretrain on")
    if count < 2:
        raise EdgepruneError(f"{dataset.source}: need at least 2 images (or crops) to pretrain, got {count}")


class ImageStore:
    """uint8 training images ``[N, s, s, 3]`` in one ``.npy`` file, read one at a time by offset (``os.pread``,
    thread-safe): the training set streams from disk instead of sitting in memory as one constant."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as handle:
            np.lib.format.read_magic(handle)
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            self.offset = handle.tell()
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.item_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        data = os.pread(self._fd, self.item_bytes, self.offset + int(index) * self.item_bytes)
        return np.frombuffer(data, self.dtype).reshape(self.shape[1:])

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


def write_training_images(dataset: Dataset, config: PretrainConfig, path: Path) -> ImageStore:
    """Resize every training image (or crop) to ``s = 1.15 x image size`` with Pillow and append it to the ``.npy``
    at ``path``, one at a time (written under a temporary name, then renamed); returns the store."""
    from PIL import Image

    side = int(round(config.image_size * 1.15))
    regions = crop_regions_for_pretraining(dataset) if config.crops else None
    count = sum(len(r) for r in regions) if regions is not None else len(dataset)
    check_training_count(dataset, config, count)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        header = {"descr": "|u1", "fortran_order": False, "shape": (count, side, side, 3)}
        np.lib.format.write_array_header_1_0(handle, header)
        for index, img in enumerate(dataset.images):
            if regions is not None and not regions[index]:
                continue
            im = Image.fromarray(load_rgb(img.source, img.file_name))  # upright, as the boxes are drawn
            if regions is None:
                handle.write(np.asarray(im.resize((side, side), Image.BILINEAR), np.uint8).tobytes())
                continue
            for x1, y1, x2, y2 in regions[index]:
                region = (max(0, x1), max(0, y1), min(im.width, x2), min(im.height, y2))
                handle.write(np.asarray(im.crop(region).resize((side, side), Image.BILINEAR), np.uint8).tobytes())
    os.replace(partial, path)
    return ImageStore(path)


def _view_pairs(images: ImageStore, config: PretrainConfig, start_step: int) -> tf.data.Dataset:
    rng = np.random.default_rng(config.seed)
    epochs = math.ceil(config.steps * config.batch_size / len(images)) + 1
    order = np.concatenate([rng.permutation(len(images)) for _ in range(epochs)])[: config.steps * config.batch_size]
    order = order[start_step * config.batch_size :]
    positions = np.arange(start_step * config.batch_size, config.steps * config.batch_size, dtype=np.int64)
    side = images.shape[1]

    def views(index, position):
        pixels = tf.numpy_function(lambda i: images[i], [index], tf.uint8, stateful=False)
        pixels.set_shape([side, side, 3])
        image = tf.cast(pixels, tf.float32) / 255.0
        seed = tf.stack([tf.cast(config.seed, tf.int64), position])
        first, second = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        return (
            simclr_view(image, config.image_size, first, min_scale=config.min_crop_scale, flip=config.flip),
            simclr_view(image, config.image_size, second, min_scale=config.min_crop_scale, flip=config.flip),
        )

    data = tf.data.Dataset.from_tensor_slices((order, positions))
    return data.map(views, num_parallel_calls=tf.data.AUTOTUNE).batch(config.batch_size).prefetch(2)


def clean_batches(images: ImageStore, config: PretrainConfig):
    """Up to ``config.batch_norm_images`` training images (a seeded sample), whole and without augmentation,
    resized from the store's size to the input size, float32 in [0, 1], in batches of ``config.batch_size``."""
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.choice(len(images), min(len(images), config.batch_norm_images), replace=False))
    for start in range(0, len(chosen), config.batch_size):
        batch = np.stack([images[i] for i in chosen[start : start + config.batch_size]])
        resized = tf.image.resize(tf.cast(batch, tf.float32) / 255.0, [config.image_size] * 2, antialias=True)
        yield tf.clip_by_value(resized, 0.0, 1.0)


def recalibrate_batch_norm(encoder, batches) -> int:
    """Replace every batch-norm layer's moving mean and variance by their average over ``batches`` (forward passes
    in training mode with momentum k/(k+1), so batch k weighs as much as the others); returns the images seen.

    Training leaves moving averages that lag the weights and follow the augmented views. At inference they
    mis-normalise, and every image's pooled features land near one vector: on BCCD the built-in backbone's
    embeddings spread by 5e-5 of their length, 0.3 after this step. Centring still recovers a useful signal from
    the first (5-NN balanced accuracy on BCCD crops 0.980 without this step, 0.967 with it), so it is off by
    default (``PretrainConfig.batch_norm_images``, ``pretrain --recalibrate-bn N``)."""
    layers = [m for m in encoder.submodules if hasattr(m, "moving_mean") and hasattr(m, "momentum")]
    saved = [layer.momentum for layer in layers]
    seen = 0
    try:
        for k, batch in enumerate(batches):
            for layer in layers:
                layer.momentum = k / (k + 1)
            embed_with(encoder, batch, training=True)
            seen += int(batch.shape[0])
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    log.info("batch norm: %d layers recalibrated on %d images", len(layers), seen)
    return seen


def data_hash(dataset: Dataset) -> str:
    """A digest of the training images' content (order-independent)."""
    digest = hashlib.sha256()
    for key in sorted(img.content()[0] for img in dataset.images):
        digest.update(key.encode())
    return digest.hexdigest()


def pretrain(
    dataset: Dataset, out: Path, config: PretrainConfig | None = None, *, overwrite: bool = False, progress: bool = True
) -> PretrainResult:
    """Train the encoder on ``dataset`` and write the hub-compatible backbone directory ``out``."""
    config = config or PretrainConfig()
    config.validate()
    out = Path(out)
    check_output_dir(out, overwrite=overwrite)
    check_training_count(dataset, config, count_training_images(dataset, config))
    work = partial_dir(out)
    data_key, images = _work_dir(dataset, config, work)
    run = _TrainingRun(config, work)
    started = time.perf_counter()
    run.train(images, progress)
    recalibrated = 0
    if config.batch_norm_images:
        recalibrated = recalibrate_batch_norm(run.encoder, clean_batches(images, config))
    n_images = int(len(images))
    images.close()
    seconds = time.perf_counter() - started
    embedding_dim = _export(run, n_images, data_key, seconds, work / "final", recalibrated)
    publish_dir(work / "final", out)
    shutil.rmtree(work, ignore_errors=True)
    return PretrainResult(out, embedding_dim, run.losses, seconds, run.resumed_from)


def _work_dir(dataset: Dataset, config: PretrainConfig, work: Path):
    """The resumable work directory: its settings (a run with other settings is discarded) and the decoded training
    images (kept for a resumed run, so decoding is not repeated). Returns the data hash and the image store."""
    work.mkdir(parents=True, exist_ok=True)
    settings_file = work / "settings.json"
    settings = {**asdict(config), "data_hash": data_hash(dataset)}
    if settings_file.is_file() and json.loads(settings_file.read_text()) != settings:
        log.info("discarding an unfinished pretraining run with other settings in %s", work)
        shutil.rmtree(work)
        work.mkdir(parents=True)
    settings_file.write_text(json.dumps(settings))
    store_path = work / "images.npy"
    images = ImageStore(store_path) if store_path.is_file() else write_training_images(dataset, config, store_path)
    return settings["data_hash"], images


class _TrainingRun:
    """The encoder, its projection head and optimizer, checkpointed in ``work/ckpt`` and restored from it (with the
    loss curve up to the checkpoint's step)."""

    def __init__(self, config: PretrainConfig, work: Path) -> None:
        import tf_keras

        self.config = config
        tf_keras.utils.set_random_seed(config.seed)
        self.encoder = build_encoder(config.width)
        self.encoder(tf.zeros([1, config.image_size, config.image_size, 3]))
        self.head = tf_keras.Sequential(
            [
                tf_keras.layers.Dense(512, use_bias=False),
                tf_keras.layers.BatchNormalization(),
                tf_keras.layers.ReLU(),
                tf_keras.layers.Dense(config.projection_dim),
            ]
        )
        schedule = tf_keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps, alpha=0.05)
        self.optimizer = tf_keras.optimizers.Adam(schedule)
        self.step = tf.Variable(0, dtype=tf.int64)
        checkpoint = tf.train.Checkpoint(step=self.step, encoder=self.encoder, head=self.head, optimizer=self.optimizer)
        self.manager = tf.train.CheckpointManager(checkpoint, str(work / "ckpt"), max_to_keep=1)
        self.losses_file = work / "losses.json"
        self.losses: list[float] = []
        if self.manager.latest_checkpoint:
            checkpoint.restore(self.manager.latest_checkpoint)
            losses = json.loads(self.losses_file.read_text()) if self.losses_file.is_file() else []
            self.losses = losses[: int(self.step.numpy())]
            log.info("resuming pretraining at step %d of %d", int(self.step.numpy()), config.steps)
        self.resumed_from = int(self.step.numpy())

    def train(self, images: ImageStore, progress: bool) -> None:
        """Run the remaining steps on pairs of augmented views, checkpointing every ``checkpoint_every`` steps."""
        config, encoder, head, optimizer = self.config, self.encoder, self.head, self.optimizer

        @tf.function
        def train_step(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                pooled = embed_with(encoder, tf.concat([first, second], axis=0), training=True)
                projected = head(pooled, training=True)
                n = tf.shape(first)[0]
                loss = nt_xent(projected[:n], projected[n:], config.temperature)
            variables = encoder.trainable_variables + head.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        bar = progress_bar(config.steps, "pretraining", "step", enabled=progress, initial=self.resumed_from)
        for first, second in _view_pairs(images, config, self.resumed_from):
            self.losses.append(float(train_step(first, second)))
            self.step.assign_add(1)
            bar.update(1)
            bar.set_postfix(loss=f"{self.losses[-1]:.3f}")
            if int(self.step.numpy()) % config.checkpoint_every == 0:
                self.losses_file.write_text(json.dumps(self.losses))  # first: restore trims it to the checkpoint's step
                self.manager.save()
        bar.close()


def _export(run: _TrainingRun, n_images: int, data_key: str, seconds: float, final: Path, recalibrated: int) -> int:
    """The trained encoder as a hub-compatible SavedModel in ``final``, with its checkpoint and ``backbone.json``;
    returns the embedding dimension."""
    config, losses = run.config, run.losses
    shutil.rmtree(final, ignore_errors=True)
    module = HubEmbedder(run.encoder)
    tf.saved_model.save(module, str(final), signatures={"serving_default": module.__call__})
    tf.train.Checkpoint(backbone=run.encoder).write(str(final / ENCODER_CHECKPOINT))
    embedding_dim = int(module(tf.zeros([1, config.image_size, config.image_size, 3])).shape[1])
    every = max(1, len(losses) // 100)
    meta = {
        "format": FORMAT_NAME,
        "image_size": config.image_size,
        "width": config.width,
        "embedding_dim": embedding_dim,
        "input": "float32 [N, H, W, 3] in [0, 1]",
        "steps": config.steps,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "crops": config.crops,
        "temperature": config.temperature,
        "training_images": n_images,
        "data_hash": data_key,
        "encoder_checkpoint": ENCODER_CHECKPOINT,
        "train_seconds": round(seconds, 1),
        "batch_norm_images": recalibrated,
        "loss_curve": [round(float(np.mean(losses[i : i + every])), 4) for i in range(0, len(losses), every)],
        "loss_every_steps": every,
    }
    (final / "backbone.json").write_text(json.dumps(meta, indent=2))
    return embedding_dim


def read_backbone_meta(path: Path) -> dict:
    """``backbone.json`` of an edgeprune backbone directory (empty for other SavedModels)."""
    meta = Path(path) / "backbone.json"
    return json.loads(meta.read_text()) if meta.is_file() else {}


def cache_settings(config: PretrainConfig) -> dict:
    """The settings that key a cached backbone; ``batch_norm_images`` only when on, so backbones cached before it
    existed keep their keys."""
    settings = asdict(config)
    if not settings["batch_norm_images"]:
        del settings["batch_norm_images"]
    return settings


def cached_pretrain(dataset: Dataset, config: PretrainConfig, *, cache_root: Path, progress: bool = True) -> Path:
    """The backbone pretrained on this dataset's content with ``config``, under ``cache_root/backbones/``.

    Reused when already there; otherwise trained (an interrupted run with the same key resumes from its checkpoint).
    """
    key = hashlib.sha256(f"{data_hash(dataset)}|{json.dumps(cache_settings(config), sort_keys=True)}".encode())
    out = Path(cache_root) / "backbones" / key.hexdigest()[:20]
    if (out / "backbone.json").is_file():
        log.info("using cached self-supervised backbone %s", out)
    else:
        log.info(
            "pretraining a self-supervised backbone on %d images (%d steps); cached in %s",
            len(dataset),
            config.steps,
            out,
        )
        pretrain(dataset, out, config, overwrite=True, progress=progress)
    return out


def pretraining_sample(dataset: Dataset, *, seed: int = 0, limit: int = PRETRAIN_SAMPLE) -> Dataset:
    """The images the built-in backbone pretrains on: all of a dataset of at most ``limit`` images (so its cache key
    is the whole dataset's), else ``limit`` of them drawn with ``seed``, in dataset order."""
    if len(dataset) <= limit:
        return dataset
    mask = np.zeros(len(dataset), bool)
    mask[np.random.default_rng(seed).choice(len(dataset), limit, replace=False)] = True
    log.info("pretraining on a seeded sample of %d of %d images", limit, len(dataset))
    return dataset.subset(mask)


def pretrained_for_dataset(
    dataset: Dataset,
    *,
    cache_root: Path,
    steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
    sample: int = PRETRAIN_SAMPLE,
) -> tuple[str, int]:
    """The cached backbone for this dataset with the default settings, training it first if needed, on at most
    ``sample`` of its images (:func:`pretraining_sample`)."""
    config = PretrainConfig(steps=steps or DEFAULT_STEPS, seed=seed)
    source = pretraining_sample(dataset, seed=seed, limit=sample)
    return str(cached_pretrain(source, config, cache_root=cache_root, progress=progress)), config.image_size
