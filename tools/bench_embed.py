"""Embedding throughput on the same images and the same MobileNetV2 (width 1.0, 224 px) backbone.

(a) the naive way: decode one image, ``model.predict`` on it, repeat;
(b) a pure batched forward pass on tensors decoded beforehand (the ceiling: no I/O, no decode);
(c) edgeprune's ``embed_images``: files -> parallel tf.data decode/resize -> one forward per batch, with prefetch.
Targets: (c) >= 0.9 x (b) and >= 10 x (a). Images: BCCD from ../shared, else generated digit scenes.

On the 2-vCPU VMs here some runs of (c) drop to about half speed (decode threads and the forward pass's
intra-op threads end up sharing one core); a pure forward pass never shows it. So (b) and (c) are timed
alternately several times and best and median are both printed.

    python tools/bench_embed.py [--images N] [--naive-images N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

tf.get_logger().setLevel("ERROR")

from edgeprune.embed import embed_images, load_backbone  # noqa: E402
from edgeprune.embed.images import decode_image  # noqa: E402
from edgeprune.embed.selfsup import FEATURE_ENDPOINT, HubEmbedder, build_encoder  # noqa: E402

SIZE = 224


def image_paths(limit: int) -> list[Path]:
    bccd = REPO.parent / "shared" / "datasets" / "bccd" / "BCCD" / "JPEGImages"
    if bccd.is_dir():
        return sorted(bccd.glob("*.jpg"))[:limit]
    from edgeprune.datasets.synthetic import make_digit_scenes

    root = Path(tempfile.mkdtemp())
    make_digit_scenes(root, n_images=limit, image_size=320)
    return sorted((root / "images").glob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=364)
    parser.add_argument("--naive-images", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="alternating timed runs of (b) and (c)")
    args = parser.parse_args()
    paths = image_paths(args.images)

    tf_keras.utils.set_random_seed(0)
    encoder = build_encoder(1.0)
    saved = Path(tempfile.mkdtemp()) / "mobilenetv2"
    module = HubEmbedder(encoder)
    module(tf.zeros([1, SIZE, SIZE, 3]))
    tf.saved_model.save(module, str(saved))
    backbone = load_backbone(saved, image_size=SIZE)

    decoded = tf.stack([decode_image(tf.io.read_file(str(p)), SIZE, "unit") for p in paths])
    backbone(decoded[: args.batch_size])  # warm-up
    embed_images(paths[: args.batch_size], backbone, batch_size=args.batch_size, progress=False)

    def pure_forward() -> float:
        started = time.perf_counter()
        for start in range(0, len(paths), args.batch_size):
            backbone(decoded[start : start + args.batch_size]).numpy()
        return len(paths) / (time.perf_counter() - started)

    def edgeprune_embed() -> float:
        started = time.perf_counter()
        embed_images(paths, backbone, batch_size=args.batch_size, progress=False)
        return len(paths) / (time.perf_counter() - started)

    runs_b, runs_c = [], []
    for _ in range(args.repeats):  # alternate so both see the same machine state
        runs_b.append(pure_forward())
        runs_c.append(edgeprune_embed())
    batched, ours = max(runs_b), max(runs_c)
    median_b, median_c = float(np.median(runs_b)), float(np.median(runs_c))

    # (a) last: Keras predict leaves threads behind that slow a tf.data pipeline run after it
    inputs = tf_keras.Input([SIZE, SIZE, 3])
    features = encoder(tf_keras.layers.Rescaling(2.0, offset=-1.0)(inputs))[FEATURE_ENDPOINT]
    keras_model = tf_keras.Model(inputs, tf_keras.layers.GlobalAveragePooling2D()(features))
    keras_model.predict(np.zeros([1, SIZE, SIZE, 3], np.float32), verbose=0)
    started = time.perf_counter()
    for path in paths[: args.naive_images]:
        image = decode_image(tf.io.read_file(str(path)), SIZE, "unit")
        keras_model.predict(image[None].numpy(), verbose=0)
    naive = args.naive_images / (time.perf_counter() - started)

    print(
        f"images: {len(paths)} ({paths[0].parent}), MobileNetV2 a=1.0 at {SIZE}px, batch {args.batch_size}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"(a) naive per-image model.predict : {naive:8.1f} img/s")
    print(f"(b) batched forward, pre-decoded  : {batched:8.1f} img/s best, {median_b:6.1f} median of {args.repeats}")
    print(f"(c) edgeprune embed_images        : {ours:8.1f} img/s best, {median_c:6.1f} median of {args.repeats}")
    print(f"best:   (c)/(b) = {ours / batched:.2f} (target >= 0.9)   (c)/(a) = {ours / naive:.1f}x (target >= 10)")
    print(f"median: (c)/(b) = {median_c / median_b:.2f}                   (c)/(a) = {median_c / naive:.1f}x")
    print("runs (c): " + ", ".join(f"{r:.0f}" for r in runs_c))


if __name__ == "__main__":
    main()
