"""The converted detector's flatbuffer: put it in the shape the Android runtimes and the Edge TPU expect, and list
its ops.

What the TFLite converter gives for a Model Garden detector, and what this module changes:

- **Output order.** The converter orders the subgraph outputs by the SavedModel signature's tensor names
  (``[count, boxes, classes, scores]`` here). The TFLite Task Library and MediaPipe Tasks read detector outputs by
  position: location ``[1, N, 4]``, category ``[1, N]``, score ``[1, N]``, count ``[1]``, the order of
  ``TFLite_Detection_PostProcess``'s own outputs and of every TF OD API SSD export. :func:`finalize_detector` makes
  the subgraph outputs exactly the post-processing op's outputs.
- **Integer int8 graph.** The quantizer does not know that ``TFLite_Detection_PostProcess`` takes quantized box
  encodings and class scores (its kernel dequantizes uint8 inputs with their own scale and zero point; it has no
  int8 path), so it puts a float ``DEQUANTIZE`` in front of each. Each becomes an exact int8 -> uint8 ``QUANTIZE``
  (same scale, zero point + 128); the graph is then integer from the input ``QUANTIZE`` up to the post-processing
  op, which is the last op.
- **No background class.** Model Garden's score tensor has a background column 0; the op is told to skip it, so
  classes are 0-based object classes, as in TF OD API exports and as ``labelmap.txt`` lists them.

The rewrite goes through ``tensorflow.lite.python.schema_py_generated`` (the flatbuffer's object API). It drops
any appended archive, so metadata is written after it (:mod:`edgeprune.detect.metadata`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import flatbuffers
import numpy as np

from ..errors import EdgepruneError

POST_PROCESS = "TFLite_Detection_PostProcess"
# Ops the Edge TPU compiler maps (coral.ai/docs/edgetpu/models-intro, "Supported operations"), as TFLite builtin
# names. An op maps only when its tensors are 8-bit quantized (int32 for biases and shape/index operands) and its
# shapes are static; the compiler stops mapping at the first op that does not, and the rest runs on the CPU.
EDGETPU_OPS = frozenset(
    {
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "EXPAND_DIMS",
        "FULLY_CONNECTED",
        "GATHER",
        "HARD_SWISH",
        "L2_NORMALIZATION",
        "LOGISTIC",
        "LSTM",
        "MAXIMUM",
        "MAX_POOL_2D",
        "MEAN",
        "MINIMUM",
        "MUL",
        "PACK",
        "PAD",
        "PRELU",
        "QUANTIZE",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "RSQRT",
        "SLICE",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SPLIT",
        "SQUARED_DIFFERENCE",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "TANH",
        "TRANSPOSE",
        "TRANSPOSE_CONV",
    }
)
_INTEGER_TYPES = {"INT8", "UINT8"}


def _schema():
    from tensorflow.lite.python import schema_py_generated as tfl

    return tfl


def _op_names(tfl, model) -> list[str]:
    builtin = {value: name for name, value in vars(tfl.BuiltinOperator).items() if not name.startswith("_")}
    names = []
    for code in model.operatorCodes:
        number = max(code.builtinCode, code.deprecatedBuiltinCode)
        if number == tfl.BuiltinOperator.CUSTOM:
            custom = code.customCode
            names.append(custom.decode() if isinstance(custom, bytes) else str(custom))
        else:
            names.append(builtin[number])
    return names


def _load(data: bytes):
    tfl = _schema()
    return tfl, tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(data, 0))


def _pack(tfl, model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def finalize_detector(data: bytes) -> bytes:
    """Outputs in the runtimes' order, and quantized inputs to the post-processing op (see the module doc).

    Raises :class:`EdgepruneError` when the model has no ``TFLite_Detection_PostProcess`` op or when ops follow it.
    """
    tfl, model = _load(data)
    names = _op_names(tfl, model)
    graph = model.subgraphs[0]
    post = [i for i, op in enumerate(graph.operators) if names[op.opcodeIndex] == POST_PROCESS]
    if len(post) != 1:
        raise EdgepruneError(f"expected one {POST_PROCESS} op in the converted detector, found {len(post)}")
    post_op = graph.operators[post[0]]
    if post[0] != len(graph.operators) - 1:
        following = [names[op.opcodeIndex] for op in graph.operators[post[0] + 1 :]]
        raise EdgepruneError(f"ops follow {POST_PROCESS} in the converted detector: {', '.join(following)}")

    producers = {int(out): i for i, op in enumerate(graph.operators) for out in op.outputs}
    readers = Counter(int(t) for op in graph.operators for t in op.inputs)
    requantize = None
    for tensor in post_op.inputs:
        source = producers.get(int(tensor))
        if source is None or names[graph.operators[source].opcodeIndex] != "DEQUANTIZE":
            continue
        op = graph.operators[source]
        if graph.tensors[int(op.inputs[0])].type != tfl.TensorType.INT8 or readers[int(tensor)] != 1:
            continue
        if requantize is None:
            requantize = _opcode_index(tfl, model, names, "QUANTIZE")
        _requantize_to_uint8(tfl, op, graph.tensors[int(op.inputs[0])], graph.tensors[int(tensor)], requantize)
    _skip_background(post_op, graph.tensors[int(post_op.inputs[1])])
    boxes = graph.tensors[int(post_op.inputs[0])]
    if boxes.type == tfl.TensorType.UINT8:
        _quantize_anchors(tfl, model, graph, graph.tensors[int(post_op.inputs[2])])
    graph.outputs = np.array(post_op.outputs, dtype=np.int32)
    return _pack(tfl, model)


def _opcode_index(tfl, model, names: list[str], name: str) -> int:
    """Index of the builtin ``name`` in the model's operator codes, added when missing."""
    if name in names:
        return names.index(name)
    code = tfl.OperatorCodeT()
    number = getattr(tfl.BuiltinOperator, name)
    code.builtinCode, code.deprecatedBuiltinCode, code.version = number, min(number, 127), 2
    model.operatorCodes.append(code)
    names.append(name)
    return len(names) - 1


def _requantize_to_uint8(tfl, op, source, target, quantize_code: int) -> None:
    """Turn ``DEQUANTIZE(int8) -> float`` into ``QUANTIZE(int8) -> uint8`` with the same scale and the zero point
    moved by 128: an exact, integer requantization, and the uint8 input the post-processing kernel dequantizes."""
    params = source.quantization
    target.type = tfl.TensorType.UINT8
    target.quantization = tfl.QuantizationParametersT()
    target.quantization.scale = np.array(params.scale, dtype=np.float32)
    target.quantization.zeroPoint = np.array(params.zeroPoint, dtype=np.int64) + 128
    op.opcodeIndex = quantize_code
    op.builtinOptionsType = tfl.BuiltinOptions.NONE
    op.builtinOptions = None


def _skip_background(post_op, scores) -> None:
    """Model Garden counts background as class 0 and passes ``num_classes = K + 1``, so the op would report
    background detections (class 0) and use up output slots with them. With ``num_classes = K`` it skips the first
    score column, as TF OD API exports do: output class ``i`` is label id ``i + 1``, line ``i`` of ``labelmap.txt``."""
    from flatbuffers import flexbuffers

    options = flexbuffers.Loads(bytes(post_op.customOptions))
    columns = int(scores.shape[-1])
    if int(options["num_classes"]) == columns:
        options["num_classes"] = columns - 1
        post_op.customOptions = np.frombuffer(flexbuffers.Dumps(options), dtype=np.uint8)


def _quantize_anchors(tfl, model, graph, anchors) -> None:
    """The kernel reads the anchors in the box encodings' type: store the constant anchors as uint8 (per-tensor
    scale ``max / 255``, zero point 0; anchors are non-negative centres and sizes in image ratios). The float
    buffer is replaced in place unless another tensor shares it."""
    if anchors.type != tfl.TensorType.FLOAT32:
        return
    values = np.frombuffer(bytes(model.buffers[anchors.buffer].data), dtype=np.float32)
    scale = float(values.max()) / 255.0 or 1.0
    quantized = np.clip(np.round(values / scale), 0, 255).astype(np.uint8)
    if sum(t.buffer == anchors.buffer for t in graph.tensors) == 1:
        model.buffers[anchors.buffer].data = quantized
    else:
        buffer = tfl.BufferT()
        buffer.data = quantized
        model.buffers.append(buffer)
        anchors.buffer = len(model.buffers) - 1
    anchors.type = tfl.TensorType.UINT8
    anchors.quantization = tfl.QuantizationParametersT()
    anchors.quantization.scale = np.array([scale], dtype=np.float32)
    anchors.quantization.zeroPoint = np.array([0], dtype=np.int64)


def op_table(data: bytes) -> list[dict]:
    """Every op in execution order: ``{"op", "inputs", "outputs"}`` with the tensor types (constants included)."""
    tfl, model = _load(data)
    names = _op_names(tfl, model)
    types = {value: name for name, value in vars(tfl.TensorType).items() if not name.startswith("_")}
    graph = model.subgraphs[0]
    return [
        {
            "op": names[op.opcodeIndex],
            "inputs": [types[graph.tensors[int(t)].type] for t in op.inputs if t >= 0],
            "outputs": [types[graph.tensors[int(t)].type] for t in op.outputs],
        }
        for op in graph.operators
    ]


def _edgetpu_reason(row: dict) -> str | None:
    """Why the Edge TPU compiler would not map this op, or ``None`` when it would."""
    if row["op"] not in EDGETPU_OPS:
        return f"{row['op']} is not an Edge TPU op"
    floats = sorted({t for t in row["inputs"] + row["outputs"] if t not in _INTEGER_TYPES | {"INT32"}})
    if floats:
        return f"{row['op']} has {', '.join(floats)} tensors (only 8-bit quantized tensors map)"
    return None


def edgetpu_summary(ops: list[dict]) -> dict:
    """How many ops the Edge TPU compiler would map under Coral's published op and quantization rules: the ops
    before the first one it cannot map (the compiler puts that op and everything after it on the CPU)."""
    for index, row in enumerate(ops):
        reason = _edgetpu_reason(row)
        if reason is not None:
            return {"mapped": index, "total": len(ops), "first_unmapped": reason}
    return {"mapped": len(ops), "total": len(ops), "first_unmapped": None}


def non_integer_ops(ops: list[dict]) -> list[str]:
    """Ops with a float tensor among their inputs or outputs, e.g. the post-processing op (float outputs)."""
    return [
        f"{row['op']} (#{i}: {', '.join(sorted(set(row['inputs'] + row['outputs'])))})"
        for i, row in enumerate(ops)
        if {"FLOAT32", "FLOAT16"} & set(row["inputs"] + row["outputs"])
    ]


def read_ops(model_path: Path) -> list[dict]:
    """:func:`op_table` of a model file."""
    return op_table(Path(model_path).read_bytes())
