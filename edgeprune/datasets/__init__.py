"""Detection datasets: one in-memory type, one reader and writer per format, format auto-detection."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from ..errors import EdgepruneError
from ..images import probe
from .coco import coco_candidates, read_coco, write_coco
from .folder import is_image_folder, read_folder, write_folder
from .mapping import map_categories as mapped
from .tfrecord import find_record_files, is_record_file, read_tfrecord, write_tfrecord
from .types import Box, Category, Dataset, ImageRecord, invalid_boxes
from .video import is_video_folder, read_videos
from .voc import is_voc, read_voc, write_voc
from .yolo import find_yaml, read_yolo, write_yolo

__all__ = [
    "Box",
    "Category",
    "Dataset",
    "ImageRecord",
    "FORMATS",
    "INPUT_FORMATS",
    "detect_format",
    "read_dataset",
    "read_with_options",
    "write_dataset",
    "check_boxes",
]
log = logging.getLogger(__name__)

FORMATS = ("coco", "voc", "tfrecord", "yolo", "folder")  # read and written
INPUT_FORMATS = FORMATS + ("video",)  # a folder of videos is read as its frames and written as an image folder
ANNOTATION_SUFFIXES = (".json", ".xml", ".yaml", ".yml", ".pbtxt", ".record", ".tfrecord")
WRITERS: dict[str, Callable[..., object]] = {
    "coco": write_coco,
    "voc": write_voc,
    "tfrecord": write_tfrecord,
    "yolo": write_yolo,
    "folder": write_folder,
}


def detect_format(path: Path | str) -> str:
    """Guess the format of the dataset at ``path``: VOC layout, TFRecords, a YOLO data.yaml, a COCO JSON, then an
    image folder (only when no annotation files are there)."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        if find_record_files(text):
            return "tfrecord"
        raise EdgepruneError(f"{path}: the pattern matches no TFRecord files")
    path = Path(path)
    if not path.exists():
        raise EdgepruneError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix.lower() == ".json":
            return "coco"
        if is_record_file(path):
            return "tfrecord"
        if path.suffix.lower() in (".yaml", ".yml"):
            return "yolo"
        raise EdgepruneError(f"{path}: cannot tell the format of this file; pass format=...")
    if is_voc(path):
        return "voc"
    if find_record_files(path):
        return "tfrecord"
    if find_yaml(path) is not None:
        return "yolo"
    if coco_candidates(path):
        return "coco"
    annotations = _annotation_files(path)
    if annotations:  # never read a labelled dataset as a plain image folder
        shown = ", ".join(str(a.relative_to(path)) for a in annotations[:5])
        raise EdgepruneError(
            f"{path}: holds annotation files ({shown}) in no layout edgeprune recognises; pass --format, or point "
            "at the annotations file"
        )
    if is_video_folder(path):
        return "video"
    if is_image_folder(path):
        return "folder"
    raise EdgepruneError(
        f"{path}: unknown dataset format (expected a COCO .json, a VOC root, TFRecords, an image folder or a folder "
        "of videos); "
        "pass --format to say which"
    )


def _annotation_files(path: Path, depth: int = 2) -> list[Path]:
    """Annotation-like files (json, xml, yaml, pbtxt, records) within ``depth`` folder levels of ``path``."""
    found = []
    for level in range(depth + 1):
        pattern = "/".join(["*"] * (level + 1))
        found += [p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in ANNOTATION_SUFFIXES]
    return sorted(found)


def read_dataset(
    path: Path | str,
    *,
    format: str | None = None,
    images_dir: Path | None = None,
    split: str | None = None,
    label_map: Path | None = None,
    map_categories: str | Path | None = None,
    fps: float | None = None,
    every: int | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Read a dataset of any supported format (auto-detected unless ``format`` is given), with its classes mapped
    by ``map_categories`` when given (see :mod:`edgeprune.datasets.mapping`). A folder of videos is read as frames
    sampled at ``fps`` or every ``every``-th frame (:mod:`edgeprune.datasets.video`), cached under ``cache_dir``
    (default: the embedding cache's root)."""
    if format is not None and format not in INPUT_FORMATS:
        raise EdgepruneError(f"format={format} is unknown; choose one of {', '.join(INPUT_FORMATS)}")
    fmt = format or detect_format(path)
    if fmt != "tfrecord" and not Path(path).exists():
        raise EdgepruneError(f"{path}: no such file or directory")
    if split is not None and fmt not in ("voc", "coco", "yolo"):
        raise EdgepruneError(f"split={split} applies to VOC, COCO and YOLO datasets only, not {fmt}")
    if (fps is not None or every is not None) and fmt != "video":
        given = f"fps={fps}" if fps is not None else f"every={every}"
        raise EdgepruneError(f"{given} samples frames of videos; {path} is a {fmt} dataset")
    if fmt == "video":
        from ..storage import default_cache_root

        dataset = read_videos(Path(path), fps=fps, every=every, cache_root=cache_dir or default_cache_root())
        if map_categories:
            raise EdgepruneError(f"map_categories={map_categories} maps classes; video frames have none")
        return dataset
    if fmt == "coco":
        dataset = read_coco(Path(path), images_dir=images_dir, split=split)
    elif fmt == "voc":
        dataset = read_voc(Path(path), split=split)
    elif fmt == "tfrecord":
        dataset = read_tfrecord(path, label_map=label_map)
    elif fmt == "yolo":
        dataset = read_yolo(Path(path), split=split)
    else:
        dataset = read_folder(Path(path))
    if not dataset.images:
        raise EdgepruneError(f"{path}: the dataset holds no images")
    if fmt in ("coco", "voc"):  # the TFRecord reader checks sizes as it reads, while it has the bytes
        check_sizes(dataset)
    if map_categories:
        dataset = mapped(dataset, map_categories)
    log.info(
        "read %s dataset %s: %d images, %d boxes, %d categories",
        fmt,
        path,
        len(dataset),
        dataset.num_boxes(),
        len(dataset.categories),
    )
    return dataset


READ_OPTIONS = ("format", "images_dir", "split", "label_map", "map_categories", "fps", "every")


def read_with_options(path: Path | str, options, cache_dir: Path | None = None) -> Dataset:
    """:func:`read_dataset` with the reading options (``format``, ``images_dir``, ``split``, ``label_map``,
    ``map_categories``, ``fps``, ``every``) that ``options`` carries: the parsed arguments of a command or its
    options dataclass; frames of videos are cached under ``cache_dir``."""
    return read_dataset(path, **{name: getattr(options, name, None) for name in READ_OPTIONS}, cache_dir=cache_dir)


def check_sizes(dataset: Dataset) -> int:
    """Warn about images whose displayed size (EXIF orientation applied, as edgeprune decodes them) differs from
    the size their annotation states: their boxes were likely drawn on the other orientation. Returns the count."""
    found = []
    for img in dataset.images:
        info = probe(img.source, img.file_name)
        if (info.width, info.height) != (img.width, img.height):
            found.append(
                f"{img.file_name}: annotated {img.width}x{img.height}, displayed {info.width}x{info.height}"
                + (f" (EXIF orientation {info.orientation})" if info.orientation != 1 else "")
            )
    if found:
        log.warning(
            "%d images of %s are not the size their annotations give; boxes may not match the pixels. e.g. %s",
            len(found),
            dataset.source,
            "; ".join(found[:3]),
        )
    return len(found)


def check_boxes(dataset: Dataset, *, drop: bool) -> int:
    """Warn about degenerate or out-of-image boxes, dropping them if ``drop``; returns how many were found.

    A dropped box edits its image, so writers re-encode that image's annotation instead of copying the original.
    """
    found = invalid_boxes(dataset.images)
    if not found:
        return 0
    examples = "; ".join(f"{img.file_name}: {reason}" for img, _, reason in found[:3])
    action = "dropping them" if drop else "keeping them (use --drop-invalid-boxes to drop)"
    log.warning("%d invalid boxes in %s, %s. e.g. %s", len(found), dataset.source, action, examples)
    if drop:
        bad = {id(box) for _, box, _ in found}
        for img in {id(i): i for i, _, _ in found}.values():
            img.boxes = [b for b in img.boxes if id(b) not in bad]
            img.extra.pop("voc_xml", None)
            img.extra.pop("tfrecord_record", None)
            if "yolo_label" in img.extra:  # keep the layout, write the label anew
                img.extra["yolo_label"] = None
    return len(found)


def write_dataset(dataset: Dataset, out_dir: Path, *, format: str | None = None, image_mode: str = "copy") -> str:
    """Write ``dataset`` under ``out_dir`` in ``format`` (default: the format it was read from); returns it."""
    fmt = format or dataset.format
    if fmt not in WRITERS:
        raise EdgepruneError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    WRITERS[fmt](dataset, out_dir, image_mode=image_mode)
    return fmt
