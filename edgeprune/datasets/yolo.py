"""Ultralytics YOLO detection datasets: a ``data.yaml`` plus ``images/`` and ``labels/`` trees.

Read as Ultralytics resolves them (the layout Roboflow, CVAT and Label Studio export):

- the dataset is a ``data.yaml`` file, or a directory holding one;
- ``path`` (the root) defaults to the yaml's folder and is resolved against it when relative;
- ``train``/``val``/``test`` are image directories, ``.txt`` lists of image paths, or lists of either, relative to
  the root; an entry that does not exist and starts with ``../`` is tried without it (Roboflow writes
  ``train: ../train/images`` beside ``train/``);
- ``names`` is a list or a ``{index: name}`` dict;
- an image's labels are at the same path with the last ``images/`` replaced by ``labels/`` and the suffix ``.txt``;
  an empty or missing label file is a background image; each line is ``class cx cy w h`` normalised to the image
  (a polygon ``class x1 y1 x2 y2 ...`` gives its bounding box).

Category ids are the YOLO class indices (0-based). Written back, kept images and their label files are copied byte
for byte at the same relative paths, with a ``data.yaml`` naming the split that was read; images from another
format go to ``images/<split>/`` with generated labels (class indices 0..N-1 in category id order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import EdgepruneError
from ..progress import track
from .files import IMAGE_SUFFIXES, copy_image, image_size, safe_relative, unique_names
from .types import Box, Category, Dataset, ImageRecord

YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml")
SPLITS = ("train", "val", "test")


def find_yaml(path: Path) -> Path | None:
    """The dataset yaml at or inside ``path``, or None."""
    if path.is_file():
        return path if path.suffix.lower() in (".yaml", ".yml") else None
    for name in YAML_NAMES:
        if (path / name).is_file():
            return path / name
    candidates = [p for p in sorted(path.glob("*.y*ml")) if "names" in _load_yaml(p, strict=False)]
    return candidates[0] if len(candidates) == 1 else None


def _load_yaml(path: Path, *, strict: bool = True) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        if not strict:
            return {}
        raise EdgepruneError(f"{path}: not a readable YAML file ({str(exc).splitlines()[0]})")
    if not isinstance(data, dict):
        if not strict:
            return {}
        raise EdgepruneError(f"{path}: expected a mapping with names and train/val/test")
    return data


def _names(yaml_file: Path, data: dict[str, Any]) -> list[Category]:
    names = data.get("names")
    if isinstance(names, list):
        pairs = list(enumerate(names))
    elif isinstance(names, dict):
        try:
            pairs = sorted((int(k), v) for k, v in names.items())
        except (TypeError, ValueError):
            raise EdgepruneError(f"{yaml_file}: names keys must be class indices, got {list(names)[:5]}")
    else:
        raise EdgepruneError(f"{yaml_file}: 'names' must be a list or a {{index: name}} mapping")
    if "nc" in data and int(data["nc"]) != len(pairs):
        raise EdgepruneError(f"{yaml_file}: nc is {data['nc']} but names lists {len(pairs)} classes")
    return [Category(index, str(name)) for index, name in pairs]


def _resolve(root: Path, entry: str) -> Path:
    candidate = Path(entry) if Path(entry).is_absolute() else root / entry
    if not candidate.exists() and str(entry).startswith("../"):
        candidate = root / str(entry)[3:]
    return candidate


def _split_images(yaml_file: Path, root: Path, spec: Any) -> list[Path]:
    entries = spec if isinstance(spec, list) else [spec]
    found: list[Path] = []
    for entry in entries:
        location = _resolve(root, str(entry))
        if location.is_dir():
            found += sorted(p for p in location.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif location.is_file() and location.suffix == ".txt":
            for line in location.read_text().splitlines():
                line = line.strip()
                if line:
                    listed = Path(line)
                    found.append(listed if listed.is_absolute() else (location.parent / line).resolve())
        else:
            raise EdgepruneError(f"{yaml_file}: split entry {entry!r} is neither an image folder nor a .txt list")
    return found


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder of the path becomes ``labels``, the suffix ``.txt``."""
    parts = list(image.parts)
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _read_labels(label_file: Path, width: int, height: int, classes: set[int]) -> list[Box]:
    boxes = []
    for number, line in enumerate(label_file.read_text().splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        try:
            cls, coords = int(values[0]), [float(v) for v in values[1:]]
        except ValueError:
            raise EdgepruneError(f"{label_file}:{number}: not numbers: {line.strip()!r}")
        if cls not in classes:
            raise EdgepruneError(f"{label_file}:{number}: class {cls} is not in the yaml's names")
        if len(coords) == 4:
            cx, cy, w, h = coords
            x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        elif len(coords) >= 6 and len(coords) % 2 == 0:  # a segment: its bounding box
            xs, ys = coords[0::2], coords[1::2]
            x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        else:
            raise EdgepruneError(f"{label_file}:{number}: expected 'class cx cy w h', got {len(values)} values")
        boxes.append(Box(cls, (x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height)))
    return boxes


def read_yolo(path: Path, *, split: str | None = None) -> Dataset:
    """Read one split (default ``train``) of an Ultralytics dataset; errors name the file and line."""
    yaml_file = find_yaml(path)
    if yaml_file is None:
        raise EdgepruneError(f"{path}: no data.yaml found (an Ultralytics YOLO dataset needs one)")
    data = _load_yaml(yaml_file)
    categories = _names(yaml_file, data)
    root = (yaml_file.parent / data["path"]) if data.get("path") else yaml_file.parent
    root = root.resolve()  # an absolute ``path`` stays as it is
    available = [s for s in SPLITS if data.get(s)]
    split = split or ("train" if "train" in available else (available[0] if available else None))
    if split not in available:
        raise EdgepruneError(f"{yaml_file}: no split {split!r} (the yaml lists: {', '.join(available) or 'none'})")
    classes = {c.id for c in categories}
    images = []
    for image_path in track(_split_images(yaml_file, root, data[split]), "reading labels"):
        try:
            relative = image_path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            relative = image_path.name
        relative = safe_relative(relative, yaml_file, "image")
        width, height = image_size(image_path)
        labels = label_path(image_path)
        boxes = _read_labels(labels, width, height, classes) if labels.is_file() else []
        extra = {"yolo_label": labels if labels.is_file() else None}
        images.append(ImageRecord(relative, relative, width, height, path=image_path, boxes=boxes, extra=extra))
    names_style = "dict" if isinstance(data.get("names"), dict) else "list"
    entries = data[split] if isinstance(data[split], list) else [data[split]]
    lists = [str(p) for p in (_resolve(root, str(e)) for e in entries) if p.is_file()]  # .txt image lists
    settings = {"split": split, "names_style": names_style, "lists": lists}
    return Dataset(images, categories, "yolo", source=yaml_file, extra={"yolo": settings})


def write_yolo(dataset: Dataset, out_dir: Path, *, image_mode: str = "copy") -> None:
    """Write ``data.yaml`` and the images/labels trees under ``out_dir`` (see the module doc)."""
    import yaml

    settings = dataset.extra.get("yolo", {})
    split = settings.get("split", "train")
    ordered = sorted(dataset.categories, key=lambda c: c.id)
    index = {c.id: i for i, c in enumerate(ordered)}
    same_ids = all(c.id == i for i, c in enumerate(ordered))
    folders = set()
    flat = unique_names([Path(img.file_name).name for img in dataset.images])  # other formats: one images/<split>/
    for img, flat_name in zip(track(dataset.images, "writing"), flat):
        from_yolo = dataset.format == "yolo" and "yolo_label" in img.extra
        if from_yolo:
            relative = Path(safe_relative(img.file_name, out_dir, "image"))
        else:
            relative = Path("images") / split / safe_relative(flat_name, out_dir, "image")
        target = out_dir / relative
        copy_image(img, target, mode=image_mode)
        folders.add(relative.parent.as_posix())
        label_target = label_path(target)
        source_label = img.extra.get("yolo_label") if from_yolo else None
        if from_yolo and same_ids and source_label is not None:  # the source label file, byte for byte
            label_target.parent.mkdir(parents=True, exist_ok=True)
            label_target.write_bytes(Path(source_label).read_bytes())
            continue
        if from_yolo and source_label is None and not img.boxes:  # no label file in the source: none here either
            continue
        label_target.parent.mkdir(parents=True, exist_ok=True)
        label_target.write_text("".join(_label_line(index[b.category_id], b, img) for b in img.boxes))
    names = [c.name for c in ordered]
    folders = sorted(folders) or [f"images/{split}"]
    document = {
        split: folders[0] if len(folders) == 1 else folders,
        "nc": len(names),
        "names": dict(enumerate(names)) if settings.get("names_style") == "dict" else names,
    }
    (out_dir / "data.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def _label_line(cls: int, box: Box, img: ImageRecord) -> str:
    x, y, w, h = box.bbox
    cx, cy = (x + w / 2) / img.width, (y + h / 2) / img.height
    return f"{cls} {cx:.6f} {cy:.6f} {w / img.width:.6f} {h / img.height:.6f}\n"
