"""Export: SavedModel, then TFLite fp32 / fp16 / full-integer int8 (uint8 input, for Coral).

The exported models take raw pixels: float32 (or uint8 for int8) ``[1, S, S, 3]`` in 0..255, the image stretched
to ``S`` x ``S``; mean/std normalisation happens inside the graph. That is what a camera pipeline, the TFLite Task
Library and an Edge TPU feed, and it makes the int8 input quantisation the identity on pixel values. The outputs are
those of ``TFLite_Detection_PostProcess``, in its order, which is the order the TFLite Task Library and MediaPipe
read: boxes ``[1, N, 4]`` (ymin, xmin, ymax, xmax, normalised, not clipped), classes ``[1, N]`` (0-based object classes,
class ``i`` = line ``i`` of ``labelmap.txt`` = label id ``i + 1``), scores ``[1, N]``, count ``[1]``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from ..embed.images import decode_numpy
from ..errors import EdgepruneError
from ..quiet import native_output_to_log
from .tflite_graph import finalize_detector

log = logging.getLogger(__name__)
QUANTIZATIONS = ("fp32", "fp16", "int8")
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def parse_quantizations(text: str) -> list[str]:
    """``fp32,fp16,int8`` -> list, rejecting unknown names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in QUANTIZATIONS]
    if unknown or not names:
        shown = ", ".join(unknown) if unknown else repr(text)
        raise EdgepruneError(f"quantize={shown} is unknown; choose from {', '.join(QUANTIZATIONS)}")
    return names


def _export_params(params, nms_version: str):
    """Export settings. For TFLite, the post-processing op decodes boxes against normalised anchors, so its outputs
    are already normalised and are the model's outputs: no rescaling or clipping ops after it (they would sit on the
    CPU after an Edge TPU graph and, in int8, round the final boxes to 256 levels)."""
    exported = copy.deepcopy(params)
    generator = exported.task.model.detection_generator
    generator.nms_version = nms_version
    tflite = nms_version == "tflite"
    generator.tflite_post_processing.normalize_anchor_coordinates = tflite
    exported.task.export_config.output_normalized_coordinates = not tflite
    exported.task.export_config.cast_num_detections_to_float = True
    exported.task.export_config.cast_detection_classes_to_float = True
    return exported


def _pixel_module(params, image_size: int):
    """Model Garden's DetectionModule for pre-processed input, with the pixel normalisation moved inside."""
    from official.vision.serving import detection

    class PixelDetectionModule(detection.DetectionModule):
        def serve(self, images: tf.Tensor):
            images = (tf.cast(images, tf.float32) - MEAN_RGB) / STDDEV_RGB
            return super().serve(images)

    return PixelDetectionModule(
        params=params, batch_size=1, input_image_size=[image_size, image_size], input_type="tflite", num_channels=3
    )


def export_saved_model(params, checkpoint_dir: Path, out_dir: Path, *, nms_version: str) -> Path:
    """Export the trained checkpoint as a SavedModel taking float32 pixels ``[1, S, S, 3]``."""
    from official.vision.serving import export_saved_model_lib

    exported = _export_params(params, nms_version)
    size = exported.task.model.input_size[0]
    checkpoint = tf.train.latest_checkpoint(str(checkpoint_dir))
    if checkpoint is None:
        raise EdgepruneError(f"{checkpoint_dir}: no checkpoint to export")
    export_saved_model_lib.export_inference_graph(
        input_type="tflite",
        batch_size=1,
        input_image_size=[size, size],
        params=exported,
        checkpoint_path=checkpoint,
        export_dir=str(out_dir),
        export_module=_pixel_module(exported, size),
        export_checkpoint_subdir="checkpoint",
        export_saved_model_subdir="saved_model",
    )
    return out_dir / "saved_model"


def calibration_images(paths: Sequence[Path | bytes], image_size: int, count: int) -> Iterator[list[np.ndarray]]:
    """Representative dataset: ``count`` training images, evenly spaced, as raw float32 pixels stretched to the
    model input."""
    paths = list(paths)
    for source in paths[:: max(1, len(paths) // max(count, 1))][:count]:  # spread over the whole training set
        image = tf.image.resize(decode_numpy(source), [image_size, image_size])
        yield [image[None].numpy().astype(np.float32)]


def convert(
    saved_model: Path,
    quantization: str,
    *,
    image_size: int,
    calibration: Sequence[Path | bytes] = (),
    calibration_steps: int = 100,
) -> bytes:
    """Convert the TFLite-NMS SavedModel to a TFLite flatbuffer (fp32, fp16 or full-integer int8), with outputs in
    the order the Android runtimes read and, for int8, quantized inputs to the post-processing op
    (:func:`edgeprune.detect.tflite_graph.finalize_detector`)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantization == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if not calibration:
            raise EdgepruneError("int8 export needs calibration images (the training set is empty)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: calibration_images(calibration, image_size, calibration_steps)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8  # raw pixels; outputs stay float32 (post-processing is float)
    with native_output_to_log():
        converted = converter.convert()
    return finalize_detector(converted)


def edgetpu_command(model_path: Path) -> str:
    """The Edge TPU compiler command for an int8 model (the compiler is not installable here)."""
    return f"edgetpu_compiler --show_operations --out_dir {model_path.parent} {model_path}"
