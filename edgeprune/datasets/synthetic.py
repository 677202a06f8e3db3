"""Synthetic detection scenes composed from scikit-learn's bundled digits, written as a COCO dataset.

Needs no download: every scene is a textured background with one to four upscaled, coloured digits; each digit is a
box whose category is the digit (ids 0-9, so category id 0 is exercised). Used by ``make demo`` and the tests.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

BACKGROUNDS = ("plain", "gradient", "noise", "stripes")


def _background(rng: np.random.Generator, size: int, style: str) -> np.ndarray:
    base = rng.uniform(40, 200, size=3)
    canvas = np.ones((size, size, 3)) * base
    if style == "gradient":
        ramp = np.linspace(-60, 60, size)[:, None, None]
        canvas = canvas + (ramp if rng.random() < 0.5 else ramp.transpose(1, 0, 2))
    elif style == "noise":
        canvas = canvas + rng.normal(0, 25, size=canvas.shape)
    elif style == "stripes":
        period = rng.integers(6, 16)
        canvas = canvas + 40 * (np.sin(np.arange(size) * 2 * np.pi / period)[None, :, None] > 0)
    return canvas


def digit_pixels(digit: np.ndarray) -> np.ndarray:
    """One scikit-learn digit (8x8 floats in 0..16) as uint8 grey levels 0..255 (16 maps to 255, not wrapped to 0)."""
    return np.round(np.clip(digit, 0, 16) * (255.0 / 16.0)).astype(np.uint8)


def _draw_scene(rng: np.random.Generator, digits, image_size: int, background: str):
    """One scene: 1-4 digit glyphs of random size, place and colour over a background; ``(canvas, boxes)`` with
    boxes as ``([x, y, w, h], digit)``."""
    from PIL import Image

    canvas = _background(rng, image_size, background)
    boxes = []
    for _ in range(rng.integers(1, 5)):
        pick = rng.integers(len(digits.images))
        side = int(rng.integers(image_size // 6, image_size // 3))
        glyph_image = Image.fromarray(digit_pixels(digits.images[pick])).resize((side, side), Image.BILINEAR)
        glyph = np.asarray(glyph_image, float) / 255.0
        x, y = (int(v) for v in rng.integers(0, image_size - side, size=2))
        colour = rng.uniform(0, 255, size=3)
        region = canvas[y : y + side, x : x + side]
        canvas[y : y + side, x : x + side] = region * (1 - glyph[..., None]) + colour * glyph[..., None]
        boxes.append(([x, y, side, side], int(digits.target[pick])))
    return canvas, boxes


def make_digit_scenes(
    out_dir: Path, *, n_images: int = 200, image_size: int = 128, seed: int = 0, duplicates: int = 0
) -> Path:
    """Write ``out_dir/images/*.jpg`` and ``out_dir/annotations.json``; returns the annotations path.

    ``duplicates`` extra images are exact re-encodes of earlier scenes with a little pixel noise (planted
    near-duplicates), recorded in each image's ``duplicate_of`` field.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    scenes: list[np.ndarray] = []
    for index in range(n_images + duplicates):
        duplicate_of = None
        if index >= n_images:
            duplicate_of = int(rng.integers(0, n_images))
            canvas = scenes[duplicate_of] + rng.normal(0, 2, size=scenes[duplicate_of].shape)
            boxes = [a for a in annotations if a["image_id"] == duplicate_of + 1]
            boxes = [(a["bbox"], a["category_id"]) for a in boxes]
        else:
            canvas, boxes = _draw_scene(rng, digits, image_size, BACKGROUNDS[index % len(BACKGROUNDS)])
            scenes.append(canvas)
        file_name = f"scene_{index:05d}.jpg"
        Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).save(out_dir / "images" / file_name, quality=92)
        entry = {"id": index + 1, "file_name": file_name, "width": image_size, "height": image_size}
        if duplicate_of is not None:
            entry["duplicate_of"] = duplicate_of + 1
        images.append(entry)
        for bbox, category in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": category,
                    "bbox": [float(v) for v in bbox],
                    "area": float(bbox[2] * bbox[3]),
                    "iscrowd": 0,
                }
            )
    data = {
        "info": {"description": "edgeprune synthetic digit scenes", "version": "1.0"},
        "licenses": [{"id": 1, "name": "BSD-3-Clause (scikit-learn digits)"}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": d, "name": str(d), "supercategory": "digit"} for d in range(10)],
    }
    path = out_dir / "annotations.json"
    path.write_text(json.dumps(data))
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m edgeprune.datasets.synthetic OUT_DIR [--images N] [--size S] [--seed S]``."""
    parser = argparse.ArgumentParser(description="Write a synthetic COCO detection dataset of digit scenes.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duplicates", type=int, default=0)
    args = parser.parse_args(argv)
    path = make_digit_scenes(
        args.out, n_images=args.images, image_size=args.size, seed=args.seed, duplicates=args.duplicates
    )
    print(f"wrote {args.images + args.duplicates} scenes: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
