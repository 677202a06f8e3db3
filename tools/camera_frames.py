"""Generated camera footage for the scale benchmarks: fixed-camera videos of 640x480 JPEG frames, one TFRecord shard
per video, as the TF OD API writes them.

Each video has its own background (a smooth colour field, a gradient and a fixed texture), a slow camera drift,
one to three objects moving in straight lines (the boxes), a brightness drift and sensor noise. Consecutive frames
are near-copies, as in real footage, and JPEGs are 25-45 KB at quality 85, so decoding costs what real frames
cost. Shards are written by a process pool, one video each, seeded by the video's index: the same ``n_frames``
always give the same bytes.

    python tools/camera_frames.py /tmp/frames --frames 100000
"""

from __future__ import annotations

import argparse
import multiprocessing
from io import BytesIO
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 640, 480
FRAMES_PER_VIDEO = 1000
CATEGORIES = ("vehicle", "person", "debris")


def _background(rng: np.random.Generator) -> np.ndarray:
    """A smooth colour field (8x6 colours, bilinear), a gradient and a fixed texture: float32 [H, W, 3]."""
    coarse = rng.uniform(40, 210, (6, 8, 3)).astype(np.float32)
    ys, xs = np.linspace(0, 5, HEIGHT), np.linspace(0, 7, WIDTH)
    y0, x0 = np.minimum(ys.astype(int), 4), np.minimum(xs.astype(int), 6)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx
    bottom = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    field = top * (1 - fy) + bottom * fy
    field += np.linspace(-1, 1, WIDTH, dtype=np.float32)[None, :, None] * rng.uniform(-30, 30, 3).astype(np.float32)
    return field + rng.normal(0, 10, (HEIGHT, WIDTH, 3)).astype(np.float32)


def video_frames(video: int, n_frames: int, seed: int = 0):
    """Yield ``(jpeg bytes, boxes)`` for the frames of one video; boxes are ``(category id, x, y, w, h)`` pixels."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([seed, video])
    background = np.clip(_background(rng), 0, 255).astype(np.int16)
    noise = rng.normal(0, 4, (4, HEIGHT, WIDTH, 3)).astype(np.int16)  # sensor noise, cycled
    objects = []
    for _ in range(int(rng.integers(1, 4))):
        size = rng.integers(24, 120, 2)
        start = rng.uniform([0, 0], [WIDTH - size[0], HEIGHT - size[1]])
        objects.append((int(rng.integers(1, 4)), size, start, rng.normal(0, 1.5, 2), tuple(rng.integers(0, 255, 3))))
    drift = rng.normal(0, 0.05, 2)
    for frame in range(n_frames):
        dx, dy = (np.round(drift * frame) % [WIDTH, HEIGHT]).astype(int)
        pixels = np.roll(background, (dy, dx), axis=(0, 1)) + noise[frame % 4]
        pixels += int(12 * np.sin(frame / 150))  # the light changes slowly
        pixels = np.clip(pixels, 0, 255, out=pixels).astype(np.uint8)
        image = Image.fromarray(pixels)
        draw = ImageDraw.Draw(image)
        boxes = []
        for category, size, start, velocity, colour in objects:
            room = np.array([WIDTH, HEIGHT]) - size  # the object bounces between the frame's edges
            x, y = (int(v) for v in room - np.abs((start + velocity * frame) % (2 * room) - room))
            w, h = int(size[0]), int(size[1])
            shape = draw.ellipse if category == 2 else draw.rectangle
            shape([x, y, x + w - 1, y + h - 1], fill=colour)
            boxes.append((category, float(x), float(y), float(w), float(h)))
        buffer = BytesIO()
        image.save(buffer, "JPEG", quality=85)
        yield buffer.getvalue(), boxes


def _write_shard(job: tuple[Path, int, int, int]) -> int:
    import tensorflow as tf

    from edgeprune.datasets.tfrecord import build_example
    from edgeprune.datasets.types import Box, ImageRecord

    path, video, n_frames, seed = job
    names = {i + 1: name for i, name in enumerate(CATEGORIES)}
    partial = path.with_name(path.name + ".partial")
    with tf.io.TFRecordWriter(str(partial)) as writer:
        for index, (jpeg, boxes) in enumerate(video_frames(video, n_frames, seed)):
            number = video * FRAMES_PER_VIDEO + index
            record = ImageRecord(
                number,
                f"video_{video:04d}/frame_{index:04d}.jpg",
                WIDTH,
                HEIGHT,
                encoded=jpeg,
                boxes=[Box(c, (x, y, w, h)) for c, x, y, w, h in boxes],
            )
            writer.write(build_example(record, names).SerializeToString())
    partial.rename(path)
    return n_frames


def make_frames(root: Path, n_frames: int, *, seed: int = 0, processes: int = 2) -> Path:
    """``n_frames`` of footage under ``root`` (shards of ``FRAMES_PER_VIDEO``, a label map); shards already written
    are kept, so an interrupted run resumes."""
    from edgeprune.datasets.tfrecord import format_label_map
    from edgeprune.datasets.types import Category

    root.mkdir(parents=True, exist_ok=True)
    shards = -(-n_frames // FRAMES_PER_VIDEO)
    jobs = []
    for video in range(shards):
        path = root / f"train.record-{video:05d}-of-{shards:05d}"
        if not path.is_file():
            count = min(FRAMES_PER_VIDEO, n_frames - video * FRAMES_PER_VIDEO)
            jobs.append((path, video, count, seed))
    if jobs:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            for done, _ in enumerate(pool.imap_unordered(_write_shard, jobs), 1):
                print(f"\rframes: {done}/{len(jobs)} videos written", end="", flush=True)
        print()
    (root / "label_map.pbtxt").write_text(format_label_map([Category(i + 1, n) for i, n in enumerate(CATEGORIES)]))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    make_frames(args.root, args.frames, processes=args.processes)


if __name__ == "__main__":
    main()
