"""train-export and benchmark on a tiny detector (128 px, width 0.35, a few steps): runs once per module."""

import json
from pathlib import Path

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.detect.config import QUICK_CONFIG
from tests.conftest import TINY_DETECTOR_SETS

SETS = [arg for override in TINY_DETECTOR_SETS for arg in ("--set", override)]
TINY = ["--config", QUICK_CONFIG, "--image-size", "128", "--width", "0.35", "--batch-size", "4", *SETS]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits_coco):
    out = tmp_path_factory.mktemp("te") / "run"
    code = main(
        [
            "-q",
            "train-export",
            str(digits_coco),
            "--val",
            str(digits_coco),
            "--out",
            str(out),
            "--steps",
            "30",
            "--checkpoint-every",
            "10",
            "--calibration-steps",
            "8",
            "--parity-tolerance",
            "100",
            *TINY,
        ]
    )
    assert code == 0
    return out


def test_training_lowers_the_loss_and_writes_metrics(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    losses = [loss for _, loss in metrics["loss_curve"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert set(metrics["tflite"]) == {"fp32", "fp16", "int8"}
    for row in [metrics["tf"], *metrics["tflite"].values()]:
        assert 0.0 <= row["mAP"] <= 100.0 and set(row["per_class"]) == {str(d) for d in range(10)}
    assert (trained / "saved_model" / "saved_model.pb").is_file()
    assert list((trained / "model").glob("ckpt-30.index"))


def test_each_tflite_model_runs_with_four_detection_outputs(trained):
    from ai_edge_litert.interpreter import Interpreter

    sizes = {}
    for name in ("fp32", "fp16", "int8"):
        path = trained / f"model_{name}.tflite"
        sizes[name] = path.stat().st_size
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]
        assert list(source["shape"]) == [1, 128, 128, 3]
        assert source["dtype"] == (np.uint8 if name == "int8" else np.float32)
        interpreter.set_tensor(source["index"], np.full(source["shape"], 100, source["dtype"]))
        interpreter.invoke()
        outputs = sorted(interpreter.get_output_details(), key=lambda d: int(d["name"].rsplit(":", 1)[1]))
        assert [list(o["shape"]) for o in outputs] == [[1, 100, 4], [1, 100], [1, 100], [1]]
        assert all(o["dtype"] == np.float32 for o in outputs)
        boxes = interpreter.get_tensor(outputs[0]["index"])
        count = int(interpreter.get_tensor(outputs[3]["index"])[0])
        assert 0 <= count <= 100 and ((boxes >= -0.01) & (boxes <= 1.01)).all()
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]


def test_metadata_and_labels_read_back(trained):
    from edgeprune.detect.metadata import read_metadata

    for name in ("fp32", "int8"):
        meta = read_metadata(trained / f"model_{name}.tflite")
        assert meta["inputs"] == ["image"]
        assert meta["outputs"] == ["location", "category", "score", "number of detections"]
        assert meta["normalization"] == {"mean": [0.0], "std": [1.0]}
        assert meta["associated_files"]["labelmap.txt"] == ["???", *[str(d) for d in range(10)]]
        assert meta["output_groups"] == ["detection_result"]
    assert (trained / "labelmap.txt").read_text().splitlines()[1] == "0"


def test_int8_ops_are_integer_except_post_processing(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    allowed = ("QUANTIZE", "DEQUANTIZE", "TFLite_Detection_PostProcess")
    assert all(op.split(" ")[0] in allowed for op in metrics["int8_non_integer_ops"])
    assert any(op.startswith("TFLite_Detection_PostProcess") for op in metrics["int8_non_integer_ops"])
    assert metrics["edgetpu_compiler"].startswith("edgetpu_compiler")


def test_benchmark_prints_a_table_and_writes_json_and_png(trained, digits_coco, tmp_path, capsys):
    models = [str(trained / f"model_{n}.tflite") for n in ("fp32", "int8")]
    code = main(
        [
            "-q",
            "benchmark",
            *models,
            "--val",
            str(digits_coco),
            "--threads",
            "1,2",
            "--runs",
            "3",
            "--out",
            str(tmp_path / "bench"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "model_fp32.tflite" in printed and "p50/p90 ms @2t" in printed
    rows = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert [Path(r["model"]).name for r in rows] == ["model_fp32.tflite", "model_int8.tflite"]
    assert rows[1]["input"].startswith("uint8") and "mAP" in rows[0]["val"]
    assert (tmp_path / "bench" / "benchmark.png").read_bytes().startswith(b"\x89PNG")


def _run(tmp_path, train, val, *extra):
    return main(
        [
            "-q",
            "train-export",
            str(train),
            "--val",
            str(val),
            "--out",
            str(tmp_path / "out"),
            "--steps",
            "2",
            *TINY,
            *extra,
        ]
    )


def test_bad_inputs(tmp_path, digits_coco, capsys):
    data = json.loads((digits_coco / "annotations.json").read_text())

    def variant(name, **changes):
        root = tmp_path / name
        root.mkdir()
        (root / "images").symlink_to(digits_coco / "images")
        (root / "annotations.json").write_text(json.dumps({**data, **changes}))
        return root

    no_boxes = variant("no_boxes", annotations=[])
    other = variant(
        "other",
        categories=data["categories"] + [{"id": 42, "name": "cat"}],
        annotations=data["annotations"] + [{"id": 9999, "image_id": 1, "category_id": 42, "bbox": [1, 1, 5, 5]}],
    )
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    cases = [
        ((no_boxes, digits_coco), [], "training set has no boxes"),
        ((digits_coco, other), [], "categories unknown to TRAIN: cat"),
        ((digits_coco, digits_coco), ["--image-size", "100"], "not divisible by 2\\^max_level = 64"),
        ((digits_coco, digits_coco), ["--quantize", "fp32,int4"], "unknown --quantize value int4"),
        ((digits_coco, digits_coco), ["--init-backbone", str(garbage)], "not a readable checkpoint"),
    ]
    import re

    for (train, val), extra, message in cases:
        code = _run(tmp_path, train, val, *extra)
        err = capsys.readouterr().err
        assert code == 2, (message, err)
        assert re.search(message, err.strip().splitlines()[-1]), err
        assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()
    (tmp_path / "out").mkdir()
    assert _run(tmp_path, digits_coco, digits_coco) == 2
    assert "already exists" in capsys.readouterr().err
