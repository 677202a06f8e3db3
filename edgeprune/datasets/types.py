"""The in-memory detection dataset that every reader produces and every writer consumes.

Boxes are stored in absolute pixel coordinates ``[x, y, width, height]`` (the COCO convention). Everything a
format carries that edgeprune does not interpret (COCO ``info``/``licenses``/``segmentation``, VOC ``pose``/
``difficult``, the raw bytes of a TFRecord example) is kept in ``extra`` so a writer of the same format can
reproduce the input exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..images import ImageInfo, content_hash, probe

# ``ImageRecord.extra`` keys a reader keeps for its own writer (the source record, XML or label file); no other
# format writes them out.
SOURCE_KEYS = frozenset({"tfrecord_record", "tfrecord_shard", "voc_xml", "yolo_label"})
RECORD_HEADER = 12  # a TFRecord frame: uint64 length, uint32 masked CRC of it, the data, uint32 masked CRC of the data
RECORD_FRAME = RECORD_HEADER + 4  # bytes of a frame besides the data


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where one ``tf.train.Example`` lies in a TFRecord file: the data starts ``offset + 12`` bytes in. Readers keep
    this instead of the bytes, so a dataset of any size holds only its annotations."""

    file: str
    offset: int
    length: int

    def read(self) -> bytes:
        """The serialised example, byte for byte (one seek and one read; a URI through Beam's filesystems)."""
        with _open_binary(self.file) as handle:
            handle.seek(self.offset + RECORD_HEADER)
            data = handle.read(self.length)
        if len(data) != self.length:
            raise OSError(f"{self.file}: record at byte {self.offset} is cut short")
        return data

    def image_bytes(self) -> bytes:
        """The example's ``image/encoded``."""
        from .example_proto import image_bytes

        return image_bytes(self.read())


def frame_runs(refs: list[RecordRef]) -> list[tuple[str, int, int]]:
    """``(file, start, end)`` byte ranges that hold the frames of ``refs``, in order; neighbours in one file merge."""
    runs: list[tuple[str, int, int]] = []
    for ref in refs:
        end = ref.offset + RECORD_FRAME + ref.length
        if runs and runs[-1][0] == ref.file and runs[-1][2] == ref.offset:
            runs[-1] = (ref.file, runs[-1][1], end)
        else:
            runs.append((ref.file, ref.offset, end))
    return runs


def _open_binary(path: str):
    """A local file, or an object at a URI (``s3://``, ``gs://``) through Beam's filesystems."""
    if "://" in path:
        from ..uris import open_uri

        return open_uri(path)
    return open(path, "rb")


@dataclass
class Category:
    """An object class: ``id`` as the source format numbers it (COCO may use 0), a name, an optional parent."""

    id: int
    name: str
    supercategory: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Box:
    """One annotated object: a category id and ``[x, y, w, h]`` in pixels."""

    category_id: int
    bbox: tuple[float, float, float, float]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def area(self) -> float:
        """Box area in square pixels (zero or negative for a degenerate box)."""
        return max(self.bbox[2], 0.0) * max(self.bbox[3], 0.0)


@dataclass(slots=True)
class ImageRecord:
    """One image: its id, where its bytes live, its size, its boxes and any image-level class label.

    Exactly one of ``path`` (a file on disk), ``record`` (an example in a TFRecord file, read on demand),
    ``encoded`` (bytes held in memory) or ``uri`` (an object on a Beam filesystem, ``s3://``/``gs://``) is set.
    ``file_name`` is the name the format uses (relative to the image root for COCO/VOC/folders).
    """

    id: int | str
    file_name: str
    width: int
    height: int
    path: Path | None = None
    encoded: bytes | None = None
    boxes: list[Box] = field(default_factory=list)
    label: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    record: RecordRef | None = None
    uri: str | None = None
    # What one read of the bytes tells (see ``content``); set by a reader that holds them anyway. A copy whose bytes
    # differ (``dataclasses.replace(img, encoded=...)``) must reset both.
    digest: str | None = field(default=None, repr=False, compare=False)
    header: ImageInfo | None = field(default=None, repr=False, compare=False)

    def content(self) -> tuple[str, ImageInfo]:
        """The image's content hash (:func:`edgeprune.images.content_hash`, the embedding cache's key) and its header
        (:func:`edgeprune.images.probe`), from one read of its bytes, then remembered. A file that is not an image
        raises :class:`~edgeprune.errors.EdgepruneError` naming it."""
        if self.digest is None or self.header is None:
            data = self.read_bytes()
            self.digest, self.header = content_hash(data), probe(data, self.file_name)
        return self.digest, self.header

    def stored_size(self) -> int:
        """The bytes a copy of the image takes (0 where it is not known without reading it, e.g. at a URI)."""
        if self.encoded is not None:
            return len(self.encoded)
        if self.record is not None:
            return self.record.length
        if self.path is not None:
            try:
                return self.path.stat().st_size
            except OSError:
                return 0
        return 0

    def read_bytes(self) -> bytes:
        """The encoded image bytes, exactly as stored (never re-encoded)."""
        if self.encoded is not None:
            return self.encoded
        if self.record is not None:
            return self.record.image_bytes()
        if self.uri is not None:
            with _open_binary(self.uri) as handle:
                return handle.read()
        assert self.path is not None
        return self.path.read_bytes()

    @property
    def source(self) -> Path | bytes:
        """What the image decoders take: the file's path, or the encoded bytes (read now for a TFRecord example)."""
        return self.path if self.path is not None else self.read_bytes()


@dataclass
class Dataset:
    """Images, their boxes and the categories, plus the format they came from and format-level extras."""

    images: list[ImageRecord]
    categories: list[Category]
    format: str
    source: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def category_names(self) -> dict[int, str]:
        """Map category id to name."""
        return {c.id: c.name for c in self.categories}

    def subset(self, mask: Sequence[bool] | np.ndarray) -> "Dataset":
        """A dataset holding only the images where ``mask`` is true; categories and extras are kept whole."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self.images),):
            raise ValueError(f"mask has shape {mask.shape}, expected ({len(self.images)},)")
        kept = [img for img, keep in zip(self.images, mask) if keep]
        return dataclasses.replace(self, images=kept)

    def box_counts(self) -> dict[str, int]:
        """Number of boxes per category name (image-level labels count for folder datasets)."""
        names = self.category_names
        counts = {c.name: 0 for c in self.categories}
        for img in self.images:
            for box in img.boxes:
                name = names.get(box.category_id, str(box.category_id))
                counts[name] = counts.get(name, 0) + 1
            if img.label is not None and not img.boxes:
                name = names.get(img.label, str(img.label))
                counts[name] = counts.get(name, 0) + 1
        return counts

    def num_boxes(self) -> int:
        """Total number of boxes."""
        return sum(len(img.boxes) for img in self.images)


def invalid_boxes(images: Iterable[ImageRecord]) -> list[tuple[ImageRecord, Box, str]]:
    """Boxes with zero or negative area or lying (partly) outside their image, with the reason for each.

    A tolerance of one pixel absorbs the usual off-by-one of VOC's 1-based coordinates.
    """
    found = []
    for img in images:
        for box in img.boxes:
            x, y, w, h = box.bbox
            if w <= 0 or h <= 0:
                found.append((img, box, f"zero area (w={w:g}, h={h:g})"))
            elif x < -1 or y < -1 or x + w > img.width + 1 or y + h > img.height + 1:
                found.append((img, box, f"outside the {img.width}x{img.height} image ({x:g},{y:g},{w:g},{h:g})"))
    return found
