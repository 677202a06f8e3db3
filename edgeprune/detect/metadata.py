"""TFLite metadata for the TFLite Task Library's and MediaPipe's ObjectDetector (Android), written by edgeprune.

The metadata is a flatbuffer of the published schema ``metadata_schema.fbs`` (TensorFlow Lite Support, file
identifier ``M001``). It describes the image input (RGB, normalisation mean 0 / std 1 because the model takes raw
pixels, value range) and the four outputs (location with box order ymin, xmin, ymax, xmax as ratios; category with
``labelmap.txt`` as its associated file; score; number of detections) grouped as ``detection_result``. It is stored
in the model's ``metadata`` list under ``TFLITE_METADATA`` and the label file is appended as a zip archive, which is
how the runtimes find associated files.

The schema's generated Python ships only in ``tflite-support`` (whose dependencies clash with TensorFlow 2.20) and
in ``mediapipe``; neither is a dependency of edgeprune. So :func:`build_metadata` writes the few tables it needs with
the ``flatbuffers`` package's ``Builder`` directly: each table below is ``{field slot: value}`` with the slots of the
schema (a union takes two: its type, then its value). The tests read the result back with the schema's generated
code and load the models in MediaPipe and the Task Library, the readers that matter.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import flatbuffers
import numpy as np

from .data import labelmap_text

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
LABEL_FILE = "labelmap.txt"
MIN_PARSER_VERSION = "1.2.0"

# Enum and union values of metadata_schema.fbs
RGB = 1  # ColorSpaceType
BOUNDARIES, RATIO = 1, 0  # BoundingBoxType, CoordinateType
TENSOR_VALUE_LABELS = 3  # AssociatedFileType
FEATURE_PROPERTIES, IMAGE_PROPERTIES, BOUNDING_BOX_PROPERTIES = 1, 2, 3  # ContentProperties union
NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union


class Scalar(NamedTuple):
    """A scalar field: the Builder's type name (``Uint8``, ``Int32``) and its value (schema default 0)."""

    kind: str
    value: int


@dataclass
class Table:
    """A table to write: ``{slot: value}``; a value is a str, a Scalar, a Table, a list of str or Table, or a
    numpy array (a vector of its dtype)."""

    fields: dict[int, object]


def _encode(builder: flatbuffers.Builder, value) -> int:
    """Write a string, vector or table (children first, as flatbuffers requires); returns its offset."""
    if isinstance(value, Table):
        return _table(builder, value)
    if isinstance(value, str):
        return builder.CreateString(value)
    if isinstance(value, np.ndarray):
        return builder.CreateNumpyVector(value)
    offsets = [_encode(builder, item) for item in value]
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _table(builder: flatbuffers.Builder, table: Table) -> int:
    encoded = {slot: v if isinstance(v, Scalar) else _encode(builder, v) for slot, v in table.fields.items()}
    builder.StartObject(max(table.fields, default=-1) + 1)
    for slot, value in encoded.items():
        if isinstance(value, Scalar):
            getattr(builder, f"Prepend{value.kind}Slot")(slot, value.value, 0)
        else:
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
    return builder.EndObject()


def _content(kind: int, properties: Table, detection_axis: bool) -> Table:
    """``Content``: the ContentProperties union (type, value) and, for SSD outputs, the ``ValueRange`` 2..2 that
    marks dimension 2 as the per-detection axis."""
    fields = {0: Scalar("Uint8", kind), 1: properties}
    if detection_axis:
        fields[2] = Table({0: Scalar("Int32", 2), 1: Scalar("Int32", 2)})
    return Table(fields)


def _tensor(name: str, description: str, content: Table, **more) -> Table:
    """``TensorMetadata``: name 0, description 1, content 3, process_units 4, stats 5, associated_files 6."""
    slots = {"process_units": 4, "stats": 5, "associated_files": 6}
    return Table({0: name, 1: description, 3: content, **{slots[k]: v for k, v in more.items()}})


def metadata_tables(labels: list[str], *, image_size: int, quantization: str) -> Table:
    """The ``ModelMetadata`` of an SSD-style detector with raw-pixel input, as tables to write."""
    normalization = Table({0: np.array([0.0], np.float32), 1: np.array([1.0], np.float32)})  # mean, std
    image = _tensor(
        "image",
        f"RGB image stretched to {image_size}x{image_size}, raw pixel values 0..255",
        _content(IMAGE_PROPERTIES, Table({0: Scalar("Int8", RGB)}), detection_axis=False),
        process_units=[Table({0: Scalar("Uint8", NORMALIZATION_OPTIONS), 1: normalization})],
        stats=Table({0: np.array([255.0], np.float32), 1: np.array([0.0], np.float32)}),  # max, min
    )
    box = Table({0: np.array([1, 0, 3, 2], np.uint32), 1: Scalar("Int8", BOUNDARIES), 2: Scalar("Int8", RATIO)})
    location = _tensor(
        "location",
        "Detected boxes: ymin, xmin, ymax, xmax as ratios of the image size",
        _content(BOUNDING_BOX_PROPERTIES, box, detection_axis=True),
    )
    label_file = Table({0: LABEL_FILE, 1: "Class names, one per line", 2: Scalar("Int8", TENSOR_VALUE_LABELS)})
    feature = Table({})
    category = _tensor(
        "category",
        "Class of each detection = line of labelmap.txt, counting from 0",
        _content(FEATURE_PROPERTIES, feature, detection_axis=True),
        associated_files=[label_file],
    )
    score = _tensor("score", "Confidence of each detection", _content(FEATURE_PROPERTIES, feature, True))
    count = _tensor("number of detections", "Number of valid detections", _content(FEATURE_PROPERTIES, feature, False))
    group = Table({0: "detection_result", 1: ["location", "category", "score"]})  # TensorGroup: name, tensor_names
    subgraph = Table({2: [image], 3: [location, category, score, count], 8: [group]})  # inputs, outputs, groups
    return Table(
        {
            0: f"edgeprune SSD MobileNetV2 FPN-lite ({quantization})",  # name
            1: f"Detects {len(labels)} classes: {', '.join(labels)}",  # description
            2: "1",  # version
            3: [subgraph],  # subgraph_metadata
            4: "edgeprune",  # author
            7: MIN_PARSER_VERSION,  # min_parser_version
        }
    )


def build_metadata(labels: list[str], *, image_size: int, quantization: str) -> bytes:
    """The ``ModelMetadata`` flatbuffer (file identifier ``M001``) for an SSD-style detector with raw-pixel input."""
    builder = flatbuffers.Builder(1024)
    root = _table(builder, metadata_tables(labels, image_size=image_size, quantization=quantization))
    builder.Finish(root, file_identifier=METADATA_IDENTIFIER)
    return bytes(builder.Output())


def write_metadata(model_path: Path, labels: list[str], *, image_size: int, quantization: str) -> None:
    """Embed the metadata in ``model_path`` and append ``labelmap.txt``; also write the label file beside it."""
    from tensorflow.lite.python import schema_py_generated as tfl

    metadata = build_metadata(labels, image_size=image_size, quantization=quantization)
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(model_path.read_bytes(), 0))
    buffer = tfl.BufferT()
    buffer.data = list(metadata)
    model.buffers.append(buffer)
    entry = tfl.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_NAME, METADATA_NAME.encode())]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    label_text = labelmap_text(labels)
    model_path.write_bytes(bytes(builder.Output()))
    with zipfile.ZipFile(model_path, "a") as archive:
        archive.writestr(LABEL_FILE, label_text)
    (model_path.parent / LABEL_FILE).write_text(label_text)
