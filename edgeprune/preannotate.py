"""Pre-annotations for the images ``select`` picked, from a detector's detections, so that labellers correct boxes
instead of drawing them: COCO (annotations with ``score``, and the results list ``pycocotools`` ``loadRes`` reads),
YOLO label files (the Ultralytics layout: ``images/`` beside ``labels/``, ``data.yaml``), and Label Studio tasks
with ``predictions`` (rectangle labels in percent of the image)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LABEL_STUDIO_FROM = "label"  # the <RectangleLabels name=...> of the labelling config below
LABEL_STUDIO_TO = "image"  # the <Image name=...>


def label_studio_config(names: list[str]) -> str:
    """The labelling config the tasks are written for."""
    labels = "".join(f'<Label value="{name}"/>' for name in names)
    return (
        f'<View><Image name="{LABEL_STUDIO_TO}" value="$image"/>'
        f'<RectangleLabels name="{LABEL_STUDIO_FROM}" toName="{LABEL_STUDIO_TO}">{labels}</RectangleLabels></View>'
    )


def _pixels(img, box) -> tuple[float, float, float, float]:
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    return xmin * img.width, ymin * img.height, (xmax - xmin) * img.width, (ymax - ymin) * img.height


def write_preannotations(out: Path, images: list, detections: list, names: list[str], *, min_score: float) -> dict:
    """Write ``coco.json``, ``coco_results.json``, ``yolo/`` and ``label_studio_tasks.json`` under ``out`` for
    ``images`` (records whose files are in ``to_label/``); ``detections[i]`` are image ``i``'s. Returns counts."""
    out.mkdir(parents=True, exist_ok=True)
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(names)]
    coco_images, annotations, results, tasks = [], [], [], []
    (out / "yolo" / "labels").mkdir(parents=True, exist_ok=True)
    for position, (img, (boxes, classes, scores)) in enumerate(zip(images, detections)):
        image_id = position + 1
        coco_images.append({"id": image_id, "file_name": img.file_name, "width": img.width, "height": img.height})
        keep = (np.asarray(scores) >= min_score) & (np.asarray(classes) >= 1) & (np.asarray(classes) <= len(names))
        lines, task_results = [], []
        for box, label, score in zip(np.asarray(boxes)[keep], np.asarray(classes)[keep], np.asarray(scores)[keep]):
            x, y, w, h = _pixels(img, box)
            entry = {"image_id": image_id, "category_id": int(label), "bbox": [x, y, w, h], "score": float(score)}
            results.append(entry)
            annotations.append({**entry, "id": len(annotations) + 1, "area": w * h, "iscrowd": 0})
            lines.append(
                f"{int(label) - 1} {(x + w / 2) / img.width:.6f} {(y + h / 2) / img.height:.6f} "
                f"{w / img.width:.6f} {h / img.height:.6f}"
            )
            value = {
                "x": 100 * x / img.width, "y": 100 * y / img.height, "width": 100 * w / img.width,
                "height": 100 * h / img.height, "rotation": 0, "rectanglelabels": [names[int(label) - 1]],
            }  # fmt: skip
            task_results.append(
                {
                    "id": f"p{image_id}_{len(task_results)}",
                    "from_name": LABEL_STUDIO_FROM,
                    "to_name": LABEL_STUDIO_TO,
                    "type": "rectanglelabels",
                    "original_width": img.width,
                    "original_height": img.height,
                    "image_rotation": 0,
                    "value": value,
                    "score": float(score),
                }  # fmt: skip
            )
        stem = Path(img.file_name).with_suffix(".txt")
        (out / "yolo" / "labels" / stem).parent.mkdir(parents=True, exist_ok=True)
        (out / "yolo" / "labels" / stem).write_text("".join(line + "\n" for line in lines))
        best = max((r["score"] for r in task_results), default=0.0)
        tasks.append(
            {
                "data": {"image": f"/data/local-files/?d=to_label/{img.file_name}"},
                "predictions": [{"model_version": "edgeprune", "score": best, "result": task_results}],
            }
        )
    coco = {"images": coco_images, "annotations": annotations, "categories": categories}
    (out / "coco.json").write_text(json.dumps(coco, indent=1))
    (out / "coco_results.json").write_text(json.dumps(results))
    names_yaml = "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(names))
    (out / "yolo" / "data.yaml").write_text(f"path: .\ntrain: images\nval: images\nnames:\n{names_yaml}")
    (out / "label_studio_tasks.json").write_text(json.dumps(tasks, indent=1))
    (out / "label_studio_config.xml").write_text(label_studio_config(names))
    return {"images": len(images), "boxes": len(results)}
