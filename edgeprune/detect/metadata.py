"""TFLite metadata for the TFLite Task Library's and MediaPipe's ObjectDetector (Android).

The metadata flatbuffer (schema ``metadata_schema.fbs``, its generated Python from the ``tflite-support`` wheel)
describes the image input (RGB, normalisation mean 0 / std 1 because the model takes raw pixels, value range)
and the four outputs (location with box order ymin, xmin, ymax, xmax as ratios; category with ``labelmap.txt``
as its associated file; score; number of detections) grouped as ``detection_result``. It is stored in the
model's ``metadata`` list under ``TFLITE_METADATA`` and the label file is appended as a zip archive, which is how
the Task Library finds associated files.

``tflite-support``'s own metadata writers need protobuf < 4 and do not import beside TensorFlow 2.20; its
generated schema module is pure flatbuffers and does, so edgeprune installs the wheel with ``--no-deps``
(``make`` does it) and builds the metadata with it directly.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import flatbuffers

from ..errors import MissingDependencyError
from .data import labelmap_text

METADATA_NAME = "TFLITE_METADATA"
LABEL_FILE = "labelmap.txt"
MIN_PARSER_VERSION = "1.2.0"


def _schema():
    """The generated metadata schema: tflite-support's, or the same schema as MediaPipe ships it."""
    try:
        from tensorflow_lite_support.metadata import metadata_schema_py_generated as schema
    except ImportError:
        try:
            from mediapipe.tasks.metadata import metadata_schema_py_generated as schema
        except ImportError as exc:
            raise MissingDependencyError(
                "TFLite metadata needs the metadata schema: pip install --no-deps tflite-support==0.4.4 "
                "(or pip install mediapipe)"
            ) from exc
    return schema


def _feature_tensor(fb, name: str, description: str, *, detection_axis: bool):
    """A plain feature output; ``detection_axis`` marks dimension 2 as the per-detection axis (TFLite's
    ``ValueRange`` convention for SSD outputs)."""
    tensor = fb.TensorMetadataT()
    tensor.name = name
    tensor.description = description
    tensor.content = fb.ContentT()
    tensor.content.contentPropertiesType = fb.ContentProperties.FeatureProperties
    tensor.content.contentProperties = fb.FeaturePropertiesT()
    if detection_axis:
        tensor.content.range = fb.ValueRangeT()
        tensor.content.range.min = 2
        tensor.content.range.max = 2
    return tensor


def build_metadata(labels: list[str], *, image_size: int, quantization: str) -> bytes:
    """The ``ModelMetadata`` flatbuffer for an SSD-style detector with raw-pixel input."""
    fb = _schema()
    image = fb.TensorMetadataT()
    image.name = "image"
    image.description = f"RGB image stretched to {image_size}x{image_size}, raw pixel values 0..255"
    image.content = fb.ContentT()
    image.content.contentProperties = fb.ImagePropertiesT()
    image.content.contentProperties.colorSpace = fb.ColorSpaceType.RGB
    image.content.contentPropertiesType = fb.ContentProperties.ImageProperties
    normalization = fb.ProcessUnitT()
    normalization.optionsType = fb.ProcessUnitOptions.NormalizationOptions
    normalization.options = fb.NormalizationOptionsT()
    normalization.options.mean = [0.0]
    normalization.options.std = [1.0]
    image.processUnits = [normalization]
    image.stats = fb.StatsT()
    image.stats.max = [255.0]
    image.stats.min = [0.0]

    location = fb.TensorMetadataT()
    location.name = "location"
    location.description = "Detected boxes: ymin, xmin, ymax, xmax as ratios of the image size"
    location.content = fb.ContentT()
    location.content.contentPropertiesType = fb.ContentProperties.BoundingBoxProperties
    location.content.contentProperties = fb.BoundingBoxPropertiesT()
    location.content.contentProperties.index = [1, 0, 3, 2]
    location.content.contentProperties.type = fb.BoundingBoxType.BOUNDARIES
    location.content.contentProperties.coordinateType = fb.CoordinateType.RATIO
    location.content.range = fb.ValueRangeT()
    location.content.range.min = 2
    location.content.range.max = 2

    category = _feature_tensor(
        fb, "category", "Class of each detection = line of labelmap.txt, counting from 0", detection_axis=True
    )
    label_file = fb.AssociatedFileT()
    label_file.name = LABEL_FILE
    label_file.description = "Class names, one per line"
    label_file.type = fb.AssociatedFileType.TENSOR_VALUE_LABELS
    category.associatedFiles = [label_file]
    score = _feature_tensor(fb, "score", "Confidence of each detection", detection_axis=True)
    count = _feature_tensor(fb, "number of detections", "Number of valid detections", detection_axis=False)

    group = fb.TensorGroupT()
    group.name = "detection_result"
    group.tensorNames = ["location", "category", "score"]
    subgraph = fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = [location, category, score, count]
    subgraph.outputTensorGroups = [group]
    model = fb.ModelMetadataT()
    model.name = f"edgeprune SSD MobileNetV2 FPN-lite ({quantization})"
    model.description = f"Detects {len(labels)} classes: {', '.join(labels)}"
    model.version = "1"
    model.author = "edgeprune"
    model.minParserVersion = MIN_PARSER_VERSION
    model.subgraphMetadata = [subgraph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"M001")
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
