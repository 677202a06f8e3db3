"""Run a TFLite detector with the TFLite Task Library and print its detections as JSON.

A standalone script for the Task Library's own virtualenv (``tflite-support`` pins protobuf < 4 and numpy < 2, so
it cannot share edgeprune's): it imports nothing from edgeprune or TensorFlow.

    python task_library_runner.py MODEL.tflite IMAGE [IMAGE ...] [--max-results N]

Prints one list per image of ``{"class", "label", "box": [xmin, ymin, xmax, ymax], "score"}``.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    """Detect on every image and print the JSON list of lists."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--max-results", type=int, default=100)
    args = parser.parse_args(argv)

    from tflite_support.task import core, processor, vision

    options = vision.ObjectDetectorOptions(
        base_options=core.BaseOptions(file_name=args.model),
        detection_options=processor.DetectionOptions(max_results=args.max_results, score_threshold=0.0),
    )
    detector = vision.ObjectDetector.create_from_options(options)
    results = []
    for path in args.images:
        detections = detector.detect(vision.TensorImage.create_from_file(path)).detections
        rows = []
        for detection in detections:
            box, category = detection.bounding_box, detection.categories[0]
            rows.append(
                {
                    "class": int(category.index),
                    "label": category.category_name,
                    "box": [box.origin_x, box.origin_y, box.origin_x + box.width, box.origin_y + box.height],
                    "score": float(category.score),
                }
            )
        results.append(rows)
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
