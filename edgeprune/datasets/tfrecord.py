"""TensorFlow Object Detection API TFRecords: sharded ``tf.train.Example`` files plus ``label_map.pbtxt``.

Keys read and written: ``image/encoded``, ``image/filename``, ``image/source_id``, ``image/format``,
``image/height``, ``image/width``, ``image/object/bbox/{xmin,xmax,ymin,ymax}`` (normalised),
``image/object/class/text`` and ``image/object/class/label``. A kept record is written back byte for byte into the
shard it came from, so the output shards exactly like the input. Records are not held in memory: each image keeps a
:class:`RecordRef` (file, byte offset, length) and its bytes are read when needed.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import logging
import math
import re
from pathlib import Path
from typing import Any

from ..errors import EdgepruneError
from ..progress import progress
from ..uris import is_uri
from .record_frames import copy_frames
from .types import Category, Dataset, ImageRecord, RecordRef

log = logging.getLogger(__name__)
LABEL_MAP_NAME = "label_map.pbtxt"
RECORDS_PER_SHARD = 1000
_SHARD_RE = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})$")
_RECORD_HINTS = (".record", ".tfrecord", ".tfrecords")


def is_record_file(path: Path) -> bool:
    """True for an existing file whose name marks it as TFRecord (``.record``, ``.tfrecord``, ``.tfrecords``)."""
    return any(hint in path.name for hint in _RECORD_HINTS) and path.is_file()


def find_record_files(path: Path | str) -> list[Path]:
    """The TFRecord files named by ``path``: a file, a glob pattern, or a directory holding ``*.record*`` files."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(text))
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if is_record_file(p))
    return []


def _label_map_class():
    """A ``StringIntLabelMap``-shaped protobuf message (the TF OD API's label map: repeated ``item`` with ``name``,
    ``id``, ``display_name``), built from a descriptor so that no TF OD API package is needed."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="edgeprune/label_map.proto", package="edgeprune", syntax="proto2")
    item = proto.message_type.add(name="StringIntLabelMapItem")
    for number, (name, kind) in enumerate((("name", field.TYPE_STRING), ("id", field.TYPE_INT32)), start=1):
        item.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL)
    item.field.add(name="display_name", number=3, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    top = proto.message_type.add(name="StringIntLabelMap")
    top.field.add(
        name="item",
        number=1,
        type=field.TYPE_MESSAGE,
        type_name=".edgeprune.StringIntLabelMapItem",
        label=field.LABEL_REPEATED,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("edgeprune.StringIntLabelMap"))


def parse_label_map(path: Path) -> list[Category]:
    """Parse a TF OD API ``label_map.pbtxt`` with protobuf's text format (comments, either quote style, escapes;
    fields edgeprune does not use, such as ``keypoints`` or ``frequency``, are skipped)."""
    from google.protobuf import text_format

    message = _label_map_class()()
    try:
        text_format.Parse(path.read_text(), message, allow_unknown_field=True)
    except text_format.ParseError as exc:
        raise EdgepruneError(f"{path}: not a label map ({exc})")
    except UnicodeDecodeError as exc:
        raise EdgepruneError(f"{path}: not UTF-8 text ({exc.reason})")
    categories = []
    for item in message.item:
        if not item.HasField("id") or not (item.name or item.display_name):
            raise EdgepruneError(
                f"{path}: label map item without id or name: {text_format.MessageToString(item, as_one_line=True)!r}"
            )
        extra = {"display_name": item.display_name} if item.HasField("display_name") else {}
        categories.append(Category(int(item.id), item.name or item.display_name, None, extra))
    if not categories:
        raise EdgepruneError(f"{path}: no 'item {{ id: .. name: .. }}' entries in the label map")
    return categories


def label_ids(categories: list[Category]) -> dict[int, int]:
    """Dataset category id -> TFRecord label id. TFRecords and ``label_map.pbtxt`` number classes 1..N, with 0
    reserved for background (Model Garden's ``TfExampleDecoder``, the TF OD API): ids that already are >= 1 stay;
    a source numbered from 0 (many COCO exporters) is renumbered 1..N in category order."""
    if all(c.id >= 1 for c in categories):
        return {c.id: c.id for c in categories}
    return {c.id: index + 1 for index, c in enumerate(sorted(categories, key=lambda c: c.id))}


def renumbered_label_ids(dataset: Dataset, output_format: str) -> dict[int, int]:
    """The category ids that writing ``dataset`` as ``output_format`` renumbers (TFRecords from a source numbered
    from 0), else empty."""
    if output_format != "tfrecord" or dataset.format == "tfrecord":
        return {}
    return {old: new for old, new in label_ids(dataset.categories).items() if old != new}


def format_label_map(categories: list[Category]) -> str:
    """The ``label_map.pbtxt`` text for ``categories`` (protobuf text format, names escaped as needed)."""
    from google.protobuf import text_format

    message = _label_map_class()()
    for cat in categories:
        item = message.item.add(id=cat.id, name=cat.name)
        if cat.extra.get("display_name"):
            item.display_name = cat.extra["display_name"]
    return text_format.MessageToString(message)


def read_tfrecord(path: Path | str, *, label_map: Path | None = None, processes: int | None = None) -> Dataset:
    """Read TF OD API TFRecords; corrupt shards and bad records raise :class:`EdgepruneError` naming the file.

    Shards are read in parallel worker processes when there are several and enough bytes to repay starting them
    (:func:`~edgeprune.datasets.shard_workers.worker_count`; ``processes`` overrides it), with the same result as
    one process: records, categories and warnings in shard order.
    """
    files = find_record_files(path)
    if not files:
        raise EdgepruneError(f"{path}: no TFRecord files found")
    if label_map is None:
        candidate = files[0].parent / LABEL_MAP_NAME
        label_map = candidate if candidate.is_file() else None
    categories = parse_label_map(label_map) if label_map else []
    known = {c.id: c for c in categories}

    from .shard_workers import read_shards, worker_count
    from .tfrecord_shard import read_shard

    workers = worker_count(files) if processes is None else processes
    shards = read_shards(files, known, workers) if workers > 1 else None
    if shards is None or any(shard.by_text for shard in shards):  # text-only labels are numbered in reading order
        shards = []
        with progress(len(files), "reading", "shard", enabled=len(files) > 1) as bar:
            for index, file in enumerate(files):
                shards.append(read_shard(file, index, known))
                bar.update(1)
    for shard in shards:
        for category in shard.found:
            known.setdefault(category.id, category)
    images = [img for shard in shards for img in shard.images]
    resized = [line for shard in shards for line in shard.resized]
    if resized:
        log.warning(
            "%d images of %s are not the size their annotations give; boxes may not match the pixels. e.g. %s",
            len(resized),
            path,
            "; ".join(resized[:3]),
        )
    if not categories:
        categories = sorted(known.values(), key=lambda c: c.id)
    extra = {"shards": [f.name for f in files], "label_map": str(label_map) if label_map else None}
    return Dataset(images, categories, "tfrecord", source=files[0].parent, extra=extra)


def build_example(img: ImageRecord, names: dict[int, str], ids: dict[int, int] | None = None):
    """A TF OD API ``tf.train.Example`` for ``img`` (boxes normalised, image bytes unchanged); ``ids`` maps category
    ids to TFRecord label ids (:func:`label_ids`; identity by default)."""
    import tensorflow as tf

    ids = ids if ids is not None else {k: k for k in names}

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def blobs(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    encoded = img.read_bytes()
    suffix = Path(img.file_name).suffix.lower().lstrip(".") or "jpeg"
    w, h = float(img.width), float(img.height)
    boxes = img.boxes
    feature = {
        "image/encoded": blobs([encoded]),
        "image/filename": blobs([img.file_name.encode()]),
        "image/source_id": blobs([str(img.id).encode()]),
        "image/key/sha256": blobs([hashlib.sha256(encoded).hexdigest().encode()]),
        "image/format": blobs([("jpeg" if suffix == "jpg" else suffix).encode()]),
        "image/height": ints([img.height]),
        "image/width": ints([img.width]),
        "image/object/bbox/xmin": floats([b.bbox[0] / w for b in boxes]),
        "image/object/bbox/xmax": floats([(b.bbox[0] + b.bbox[2]) / w for b in boxes]),
        "image/object/bbox/ymin": floats([b.bbox[1] / h for b in boxes]),
        "image/object/bbox/ymax": floats([(b.bbox[1] + b.bbox[3]) / h for b in boxes]),
        "image/object/class/text": blobs([names[b.category_id].encode() for b in boxes]),
        "image/object/class/label": ints([ids[b.category_id] for b in boxes]),
        "image/object/is_crowd": ints([int(b.extra.get("iscrowd", 0)) for b in boxes]),
        "image/object/area": floats([b.area for b in boxes]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _shard_names(dataset: Dataset, base: str) -> list[str]:
    shards = dataset.extra.get("shards") if dataset.format == "tfrecord" else None
    if shards:
        return list(shards)
    count = max(1, math.ceil(len(dataset.images) / RECORDS_PER_SHARD))
    return [f"{base}.record-{i:05d}-of-{count:05d}" for i in range(count)]


def write_tfrecord(dataset: Dataset, out_dir: Path, *, base: str = "data", **_: Any) -> list[Path]:
    """Write the dataset as TFRecord shards plus ``label_map.pbtxt``; returns the shard paths.

    Records read from TFRecords go back unchanged into the shard of the same name: a shard that only holds such
    records is a copy of their frames (length, checksums and example, byte for byte, by ``copy_file_range`` where
    the OS has it), never parsed or re-framed. Others are encoded anew and spread over ``ceil(n / 1000)`` shards.
    Every input shard gets an output file, even an empty one.
    """
    import tensorflow as tf

    out_dir.mkdir(parents=True, exist_ok=True)
    names = _shard_names(dataset, base)
    category_names = dataset.category_names
    ids = label_ids(dataset.categories)
    renumbered = {old: new for old, new in ids.items() if old != new}
    if renumbered:
        log.warning(
            "TFRecord label ids are 1..N (0 is background): category ids renumbered %s",
            ", ".join(f"{old}->{new}" for old, new in renumbered.items()),
        )
    planned: list[list[tuple[ImageRecord, RecordRef | None]]] = [[] for _ in names]
    for index, img in enumerate(dataset.images):
        ref = img.extra.get("tfrecord_record")  # the source example, unchanged
        shard = img.extra.get("tfrecord_shard") if ref is not None else None
        if shard is None or shard >= len(names):
            planned[index * len(names) // max(len(dataset.images), 1)].append((img, None))
        else:
            planned[shard].append((img, ref))
    bar = progress(len(dataset.images), "writing", "img")
    try:
        for name, items in zip(names, planned):
            refs = [ref for _, ref in items]
            if all(ref is not None and not is_uri(ref.file) for ref in refs):
                copy_frames(refs, out_dir / name)
            else:
                with tf.io.TFRecordWriter(str(out_dir / name)) as writer:
                    for img, ref in items:
                        writer.write(
                            ref.read()
                            if ref is not None
                            else build_example(img, category_names, ids).SerializeToString()
                        )
            bar.update(len(items))
    finally:
        bar.close()
    categories = [dataclasses.replace(c, id=ids[c.id]) for c in dataset.categories]
    (out_dir / LABEL_MAP_NAME).write_text(format_label_map(categories))
    return [out_dir / name for name in names]
