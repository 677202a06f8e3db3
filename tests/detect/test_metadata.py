"""edgeprune writes the TFLite metadata flatbuffer itself: the schema's own generated reader (MediaPipe's copy)
reads back every field, and no package that carries the schema is needed to write it. The runtimes that use it
(MediaPipe, the Task Library) load the exported models in test_clients.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from edgeprune.detect.metadata import build_metadata


def _read(data: bytes):
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    assert fb.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0)
    return fb, fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(data, 0))


def test_the_schemas_generated_reader_reads_every_field():
    fb, model = _read(build_metadata(["RBC", "WBC", "Platelets"], image_size=320, quantization="int8"))
    assert model.name == b"edgeprune SSD MobileNetV2 FPN-lite (int8)" and model.minParserVersion == b"1.2.0"
    assert model.description == b"Detects 3 classes: RBC, WBC, Platelets" and model.author == b"edgeprune"
    (subgraph,) = model.subgraphMetadata
    (image,) = subgraph.inputTensorMetadata
    assert image.content.contentPropertiesType == fb.ContentProperties.ImageProperties
    assert image.content.contentProperties.colorSpace == fb.ColorSpaceType.RGB
    (unit,) = image.processUnits
    assert unit.optionsType == fb.ProcessUnitOptions.NormalizationOptions
    assert list(unit.options.mean) == [0.0] and list(unit.options.std) == [1.0]
    assert list(image.stats.max) == [255.0] and list(image.stats.min) == [0.0]
    location, category, score, count = subgraph.outputTensorMetadata
    assert [t.name for t in (location, category, score, count)] == [
        b"location",
        b"category",
        b"score",
        b"number of detections",
    ]
    box = location.content.contentProperties
    assert location.content.contentPropertiesType == fb.ContentProperties.BoundingBoxProperties
    assert np.array_equal(box.index, [1, 0, 3, 2]) and box.type == fb.BoundingBoxType.BOUNDARIES
    assert box.coordinateType == fb.CoordinateType.RATIO
    for tensor in (location, category, score):
        assert (tensor.content.range.min, tensor.content.range.max) == (2, 2)
    assert count.content.range is None
    for tensor in (category, score, count):
        assert tensor.content.contentPropertiesType == fb.ContentProperties.FeatureProperties
    (labels,) = category.associatedFiles
    assert labels.name == b"labelmap.txt" and labels.type == fb.AssociatedFileType.TENSOR_VALUE_LABELS
    (group,) = subgraph.outputTensorGroups
    assert group.name == b"detection_result" and group.tensorNames == [b"location", b"category", b"score"]


def test_written_without_any_package_that_carries_the_schema(tmp_path):
    """A plain `pip install edgeprune` has neither tflite-support nor mediapipe: block both, then write."""
    script = (
        "import sys\n"
        "sys.modules.update({'mediapipe': None, 'tensorflow_lite_support': None, 'tflite_support': None})\n"
        "from edgeprune.detect.metadata import build_metadata\n"
        "sys.stdout.buffer.write(build_metadata(['a'], image_size=128, quantization='fp32'))\n"
    )
    data = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    _, model = _read(data)
    assert model.description == b"Detects 1 classes: a"
