"""COCO JSON: an annotations file plus an images directory.

Layouts accepted:

- a ``.json`` file (images next to it, in ``images/`` beside it, or ``--images``);
- a directory holding ``annotations.json`` (or exactly one ``*.json``) and ``images/``;
- Roboflow's export: ``_annotations.coco.json`` beside the images;
- the official COCO 2017 layout: ``annotations/instances_<split>.json`` and ``<split>/``, ``--split`` picks one;
- CVAT and Label Studio exports, whose ``file_name`` holds subfolders.

``file_name`` must stay inside the image folder; duplicate image ids or file names are errors. The file is
validated by building a pycocotools index. ``info``, ``licenses``, ``iscrowd``, ``area`` and segmentation are
kept untouched.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from ..errors import EdgepruneError
from ..progress import track
from .files import copy_image, image_size, safe_relative
from .types import SOURCE_KEYS, Box, Category, Dataset, ImageRecord

ANNOTATIONS_NAME = "annotations.json"
_BOX_KEYS = ("category_id", "bbox")


ROBOFLOW_NAME = "_annotations.coco.json"


def coco_candidates(path: Path) -> list[Path]:
    """Every COCO-looking annotations file at or inside ``path``: the file itself, ``annotations.json``, Roboflow's
    ``_annotations.coco.json``, any ``*.json`` beside the images, or the official layout's
    ``annotations/instances_<split>.json``."""
    if path.is_file():
        return [path] if path.suffix.lower() == ".json" else []
    for name in (ANNOTATIONS_NAME, ROBOFLOW_NAME):
        if (path / name).is_file():
            return [path / name]
    return (
        sorted(path.glob("*.json"))
        or sorted(path.glob("annotations/instances_*.json"))
        or sorted(path.glob("annotations/*.json"))
    )


def find_annotations(path: Path, split: str | None = None) -> Path | None:
    """The COCO annotations file at or inside ``path`` (``split`` picks ``instances_<split>.json`` among several),
    or None if there is none. Several candidates and no ``split`` is an error that lists them."""
    candidates = coco_candidates(path)
    if split is not None:
        chosen = [c for c in candidates if c.stem in (split, f"instances_{split}")]
        if not chosen:
            shown = ", ".join(c.name for c in candidates) or "none"
            raise EdgepruneError(f"{path}: no COCO annotations for split {split!r} (found: {shown})")
        return chosen[0]
    if len(candidates) > 1:
        shown = ", ".join(str(c.relative_to(path)) for c in candidates)
        splits = ", ".join(c.stem.removeprefix("instances_") for c in candidates)
        raise EdgepruneError(f"{path}: several COCO annotation files ({shown}); pick one with split=... ({splits})")
    return candidates[0] if candidates else None


def _image_root(ann_file: Path, images_dir: Path | None) -> Path:
    """``--images``; else ``images/`` beside the json (or beside its folder); else, for the official layout's
    ``annotations/instances_<split>.json``, the ``<split>/`` folder beside ``annotations/``; else the json's folder."""
    if images_dir is not None:
        return images_dir
    candidates = [ann_file.parent / "images", ann_file.parent.parent / "images"]
    if ann_file.stem.startswith("instances_"):
        candidates.insert(0, ann_file.parent.parent / ann_file.stem.removeprefix("instances_"))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return ann_file.parent


def _load_json(ann_file: Path) -> dict[str, Any]:
    try:
        with ann_file.open("rb") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise EdgepruneError(f"{ann_file}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    except UnicodeDecodeError as exc:
        raise EdgepruneError(f"{ann_file}: not UTF-8 text ({exc.reason})")
    if not isinstance(data, dict):
        raise EdgepruneError(f"{ann_file}: expected a JSON object with images/annotations/categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise EdgepruneError(f"{ann_file}: missing or non-list '{key}' (not a COCO detection file)")
    return data


def _validate_with_pycocotools(ann_file: Path, data: dict[str, Any]) -> None:
    """Build a pycocotools index; it is the reference for what a COCO file is."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = data
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
    except (KeyError, TypeError) as exc:
        raise EdgepruneError(f"{ann_file}: pycocotools cannot index this file: missing or bad field {exc}")


def read_coco(path: Path, *, images_dir: Path | None = None, split: str | None = None) -> Dataset:
    """Read a COCO detection dataset; raises :class:`EdgepruneError` naming the file on any problem."""
    ann_file = find_annotations(path, split)
    if ann_file is None:
        raise EdgepruneError(
            f"{path}: no COCO annotations file found (expected {ANNOTATIONS_NAME}, {ROBOFLOW_NAME}, one *.json or "
            "annotations/instances_<split>.json)"
        )
    data = _load_json(ann_file)
    _validate_with_pycocotools(ann_file, data)
    root = _image_root(ann_file, images_dir)

    categories = _categories(data, ann_file)
    images = _images(data, ann_file, root)
    _attach_boxes(data, ann_file, {img.id: img for img in images}, {c.id for c in categories})
    top_extra = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    return Dataset(images, categories, "coco", source=ann_file, extra={"coco": top_extra, "image_root": str(root)})


def _categories(data: dict, ann_file: Path) -> list[Category]:
    categories = []
    for cat in data["categories"]:
        if "id" not in cat or "name" not in cat:
            raise EdgepruneError(f"{ann_file}: category without id or name: {cat}")
        extra = {k: v for k, v in cat.items() if k not in ("id", "name", "supercategory")}
        categories.append(Category(int(cat["id"]), str(cat["name"]), cat.get("supercategory"), extra))
    return categories


def _images(data: dict, ann_file: Path, root: Path) -> list[ImageRecord]:
    """Every image entry as a record pointing at its file; ids and file names must be unique and files present."""
    images: list[ImageRecord] = []
    by_id: set[Any] = set()
    by_name: dict[str, Any] = {}
    for entry in data["images"]:
        if "id" not in entry or "file_name" not in entry:
            raise EdgepruneError(f"{ann_file}: image entry without id or file_name: {entry}")
        if entry["id"] in by_id:
            raise EdgepruneError(f"{ann_file}: duplicate image id {entry['id']!r}")
        name = safe_relative(entry["file_name"], ann_file, f"image {entry['id']} file_name")
        if name in by_name:
            raise EdgepruneError(
                f"{ann_file}: images {by_name[name]!r} and {entry['id']!r} share the file_name {entry['file_name']!r}"
            )
        by_name[name] = entry["id"]
        image_path = root / name
        if not image_path.is_file():
            raise EdgepruneError(f"{ann_file}: image {entry['id']} points at missing file {image_path}")
        width, height = entry.get("width"), entry.get("height")
        if not width or not height:
            width, height = image_size(image_path)
        extra = {k: v for k, v in entry.items() if k not in ("id", "file_name", "width", "height", "category_id")}
        record = ImageRecord(entry["id"], entry["file_name"], int(width), int(height), path=image_path, extra=extra)
        record.label = entry.get("category_id")
        images.append(record)
        by_id.add(entry["id"])
    return images


def _attach_boxes(data: dict, ann_file: Path, by_id: dict[Any, ImageRecord], category_ids: set[int]) -> None:
    """Each annotation's box onto its image; an unknown image or category, or a bbox that is not [x,y,w,h], is an
    error naming the annotation."""
    for ann in data["annotations"]:
        if any(k not in ann for k in (*_BOX_KEYS, "image_id")):
            raise EdgepruneError(f"{ann_file}: annotation {ann.get('id', '?')} lacks image_id, category_id or bbox")
        record = by_id.get(ann["image_id"])
        if record is None:
            raise EdgepruneError(
                f"{ann_file}: annotation {ann.get('id', '?')} points at unknown image {ann['image_id']}"
            )
        if ann["category_id"] not in category_ids:
            raise EdgepruneError(
                f"{ann_file}: annotation {ann.get('id', '?')} has unknown category {ann['category_id']}"
            )
        bbox = ann["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise EdgepruneError(f"{ann_file}: annotation {ann.get('id', '?')} has bbox {bbox!r}, expected [x,y,w,h]")
        extra = {k: v for k, v in ann.items() if k not in ("image_id", *_BOX_KEYS)}
        record.boxes.append(Box(int(ann["category_id"]), tuple(float(v) for v in bbox), extra))


def to_coco_dict(dataset: Dataset) -> dict[str, Any]:
    """The COCO JSON object for ``dataset``: original ids and fields where known, fresh integer ids otherwise."""
    images, annotations = [], []
    used_ann_ids = {b.extra["id"] for img in dataset.images for b in img.boxes if isinstance(b.extra.get("id"), int)}
    next_ann_id = max(used_ann_ids, default=0) + 1
    ids = _image_ids(dataset)
    for index, img in enumerate(dataset.images):
        image_id = ids[index]
        entry = {"id": image_id, "file_name": coco_file_name(img), "width": img.width, "height": img.height}
        if img.label is not None:  # an image-level class (folder datasets), kept for the way back
            entry["category_id"] = img.label
        entry.update({k: v for k, v in img.extra.items() if k not in SOURCE_KEYS and _json_safe(v)})
        images.append(entry)
        for box in img.boxes:
            ann = {"image_id": image_id, "category_id": box.category_id, "bbox": list(box.bbox)}
            extra = {k: v for k, v in box.extra.items() if _json_safe(v)}
            if "id" not in extra:
                extra["id"] = next_ann_id
                next_ann_id += 1
            extra.setdefault("area", box.area)
            extra.setdefault("iscrowd", 0)
            ann.update(extra)
            annotations.append(ann)
    categories = []
    for cat in dataset.categories:
        entry = {"id": cat.id, "name": cat.name}
        if cat.supercategory is not None:
            entry["supercategory"] = cat.supercategory
        entry.update(cat.extra)
        categories.append(entry)
    result = dict(dataset.extra.get("coco", {}))
    result.update({"images": images, "annotations": annotations, "categories": categories})
    return result


def _image_ids(dataset: Dataset) -> list[int]:
    """The source's image ids where they are integers, or digit strings (TFRecord ``image/source_id``), and
    unique; otherwise 1..N."""
    try:
        ids = [int(img.id) for img in dataset.images if isinstance(img.id, int) or str(img.id).isdigit()]
    except ValueError:
        ids = []
    if len(ids) == len(dataset.images) and len(set(ids)) == len(ids):
        return ids
    return list(range(1, len(dataset.images) + 1))


def coco_file_name(img: ImageRecord) -> str:
    """The relative file name an image gets in a written COCO dataset."""
    if img.path is None and img.file_name and "/" not in img.file_name:
        return img.file_name
    return img.file_name or f"{img.id}.jpg"


def _json_safe(value: Any) -> bool:
    return not isinstance(value, (bytes, bytearray, Path))


def write_coco(dataset: Dataset, out_dir: Path, *, image_mode: str = "copy") -> None:
    """Write ``annotations.json`` and ``images/`` under ``out_dir`` (which must exist)."""
    data = to_coco_dict(dataset)
    image_dir = out_dir / "images"
    for img, entry in zip(track(dataset.images, "writing"), data["images"]):
        copy_image(img, image_dir / entry["file_name"], mode=image_mode)
    with (out_dir / ANNOTATIONS_NAME).open("w") as fh:
        json.dump(data, fh)
