"""One TF OD API shard read into :class:`ImageRecord` objects that hold where each example lies (a
:class:`RecordRef`), not its bytes, plus each image's content hash and header from the bytes in hand. TensorFlow is
not imported (:mod:`.record_frames`, :mod:`.example_proto`), so a worker process can do this in tens of MB
(:mod:`.shard_workers`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..errors import EdgepruneError
from ..images import content_hash, probe
from .example_proto import parse_example
from .files import safe_relative
from .record_frames import read_frames
from .types import Box, Category, ImageRecord, RecordRef


@dataclasses.dataclass
class ShardRead:
    """One shard read: its images, the categories its boxes use that were not known before it (in the order met),
    the images whose stated size is not their displayed one, and whether a box had only a class name."""

    images: list[ImageRecord]
    found: list[Category]
    resized: list[str]
    by_text: bool


def read_shard(record_file: Path, shard: int, known: dict[int, Category]) -> ShardRead:
    """Read one TFRecord file (shard number ``shard``); ``known`` (category id -> category) gains the categories
    its boxes name that it lacked."""
    read = ShardRead([], [], [], False)
    before = set(known)
    name = str(record_file)
    try:
        for position, (offset, raw) in enumerate(read_frames(record_file)):
            read.images.append(_parse_record(raw, RecordRef(name, offset, len(raw)), position, shard, known, read))
    except OSError as exc:
        raise EdgepruneError(f"{record_file}: cannot read TFRecord ({exc.strerror or exc})") from None
    read.found = [category for key, category in known.items() if key not in before]
    return read


def _parse_record(
    raw: bytes, ref: RecordRef, position: int, shard: int, known: dict[int, Category], read: ShardRead
) -> ImageRecord:
    """One example as an :class:`ImageRecord` holding ``ref``, not the bytes, with its ``digest`` and ``header``
    from the bytes in hand (embedding then reads no example again); an image whose displayed size differs from the
    one the example states is noted in ``read``, as is a box labelled by its class name alone."""
    from google.protobuf.message import DecodeError

    record_file = Path(ref.file)
    try:
        example = parse_example(raw)
    except DecodeError:
        raise EdgepruneError(f"{record_file}: record {position} is not a tf.train.Example")
    feature = example.features.feature
    encoded = _first(feature, "image/encoded")
    if encoded is None:
        raise EdgepruneError(f"{record_file}: record {position} has no image/encoded")
    width, height = int(_first(feature, "image/width", 0)), int(_first(feature, "image/height", 0))
    if width <= 0 or height <= 0:
        from io import BytesIO

        from PIL import Image

        try:
            width, height = Image.open(BytesIO(encoded)).size
        except OSError:
            raise EdgepruneError(f"{record_file}: record {position} holds an unreadable image")
    file_name = _first(feature, "image/filename", b"").decode() or f"{shard:05d}_{position:06d}.jpg"
    file_name = safe_relative(file_name, record_file, f"record {position} image/filename")
    source_id = _first(feature, "image/source_id", b"").decode() or file_name
    coords = [_feature_list(feature, f"image/object/bbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
    labels = _feature_list(feature, "image/object/class/label")
    texts = [t.decode() for t in _feature_list(feature, "image/object/class/text")]
    if len({len(c) for c in coords}) > 1 or (labels and len(labels) != len(coords[0])):
        raise EdgepruneError(f"{record_file}: record {position} has box lists of different lengths")
    boxes = []
    for i, (xmin, ymin, xmax, ymax) in enumerate(zip(*coords)):
        if i < len(labels):
            label = int(labels[i])
        elif i < len(texts):
            label = next((c.id for c in known.values() if c.name == texts[i]), len(known) + 1)
            read.by_text = True
        else:
            raise EdgepruneError(f"{record_file}: record {position} box {i} has neither class/label nor class/text")
        if label not in known:
            known[label] = Category(label, texts[i] if i < len(texts) else str(label))
        boxes.append(Box(label, (xmin * width, ymin * height, (xmax - xmin) * width, (ymax - ymin) * height)))
    info = probe(encoded, f"{record_file} record {position}")
    if (info.width, info.height) != (width, height):
        read.resized.append(f"{file_name}: annotated {width}x{height}, displayed {info.width}x{info.height}")
    extra = {"tfrecord_record": ref, "tfrecord_shard": shard}
    digest = content_hash(encoded)
    return ImageRecord(
        source_id, file_name, width, height, boxes=boxes, extra=extra, record=ref, digest=digest, header=info
    )


def _feature_list(feature: Any, key: str) -> list:
    if key not in feature:
        return []
    value = feature[key]
    kind = value.WhichOneof("kind")
    return list(getattr(value, kind).value) if kind else []


def _first(feature: Any, key: str, default: Any = None) -> Any:
    values = _feature_list(feature, key)
    return values[0] if values else default
