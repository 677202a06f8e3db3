"""Run a train-export output in MediaPipe Tasks and the TFLite Task Library and compare with edgeprune's own TFLite
reading, on real validation images (resized to the model's input size, so no runtime resizes).

    python tools/check_clients.py bccd_quick --val ../shared/datasets/bccd/BCCD --val-split val \
        --tasklib-python .venv-tasklib/bin/python --out tools/results/export_bccd/clients_quick.json

Prints one line per model and runtime: detections compared (score above --score-floor, box inside the image), how
many found no match of the same class, the largest box difference (origin and size, px) and score difference.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from edgeprune.datasets import read_dataset
from edgeprune.detect import clients
from edgeprune.detect.data import read_labelmap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="a train-export --out directory")
    parser.add_argument("--val", required=True)
    parser.add_argument("--val-split")
    parser.add_argument("--images", type=int, default=20, help="how many validation images (default 20)")
    parser.add_argument("--score-floor", type=float, default=0.3, help="compare detections scoring above this")
    parser.add_argument("--tasklib-python", default=".venv-tasklib/bin/python")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()

    labels = read_labelmap(args.model_dir / "labelmap.txt").names
    val = read_dataset(args.val, split=args.val_split)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in sorted(args.model_dir.glob("model_*.tflite")):
            size = clients.input_size(model)
            images, files = [], []
            for index, img in enumerate(val.images[: args.images]):
                with Image.open(img.path) as im:
                    pixels = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
                images.append(pixels)
                files.append(Path(tmp) / f"{size}_{index}.png")
                Image.fromarray(pixels).save(files[-1])
            reference = clients.reference_detections(model, images, labels)
            found = {
                "mediapipe": clients.mediapipe_detections(model, images),
                "task_library": clients.task_library_detections(model, files, python=args.tasklib_python),
            }
            for runtime, detections in found.items():
                row = clients.compare(reference, detections, size=size, score_floor=args.score_floor)
                results[f"{model.name} {runtime}"] = row
                print(
                    f"{model.name:20s} {runtime:13s} compared {row['compared']:5d}  unmatched {row['unmatched']:3d}  "
                    f"max box diff {row['max_box_px']:.2f} px  max score diff {row['max_score']:.4f}"
                )
    if args.out:
        args.out.write_text(json.dumps({"images": args.images, "score_floor": args.score_floor, **results}, indent=2))


if __name__ == "__main__":
    main()
