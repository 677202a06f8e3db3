"""train-export and benchmark on a tiny detector (128 px, width 0.35, a few steps): runs once per module."""

import json
from pathlib import Path

import numpy as np

from edgeprune.cli import main
from tests.detect.conftest import TINY


def test_training_lowers_the_loss_and_writes_metrics(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    losses = [loss for _, loss in metrics["loss_curve"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert set(metrics["tflite"]) == {"fp32", "fp16", "int8"}
    for row in [metrics["tf"], *metrics["tflite"].values()]:
        assert 0.0 <= row["mAP"] <= 100.0 and set(row["per_class"]) == {str(d) for d in range(10)}
    assert (trained / "saved_model" / "saved_model.pb").is_file()
    assert list((trained / "model").glob("ckpt-30.index"))


def test_each_tflite_model_has_the_runtimes_output_order(trained):
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
        outputs = interpreter.get_output_details()  # by position, as the Task Library and MediaPipe read them
        assert [list(o["shape"]) for o in outputs] == [[1, 100, 4], [1, 100], [1, 100], [1]]
        assert all(o["dtype"] == np.float32 for o in outputs)
        classes = interpreter.get_tensor(outputs[1]["index"])[0]
        count = int(interpreter.get_tensor(outputs[3]["index"])[0])
        assert 0 <= count <= 100
        assert ((classes[:count] >= 0) & (classes[:count] <= 9)).all()  # 0-based object classes, no background
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]


def test_labelmap_beside_the_models_names_output_classes(trained):
    # the metadata itself is checked by its real readers, MediaPipe and the Task Library (test_clients.py)
    assert (trained / "labelmap.txt").read_text().splitlines() == [str(d) for d in range(10)]


def test_int8_graph_is_integer_up_to_the_post_processing_op(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    ops = metrics["int8_ops"]
    assert ops[0]["op"] == "QUANTIZE" and ops[0]["inputs"] == ["UINT8"] and ops[0]["outputs"] == ["INT8"]
    assert ops[-1]["op"] == "TFLite_Detection_PostProcess"
    assert ops[-1]["inputs"] == ["UINT8", "UINT8", "UINT8"]  # quantized boxes, scores and anchors
    for row in ops[:-1]:
        assert set(row["inputs"] + row["outputs"]) <= {"INT8", "UINT8", "INT32"}, row
    assert [op.split(" ")[0] for op in metrics["int8_non_integer_ops"]] == ["TFLite_Detection_PostProcess"]
    edgetpu = metrics["edgetpu"]
    assert edgetpu["mapped"] == edgetpu["total"] - 1 == len(ops) - 1
    assert "TFLite_Detection_PostProcess" in edgetpu["first_unmapped"]
    assert edgetpu["compiler"].startswith("edgetpu_compiler")


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
    assert rows[1]["edgetpu"]["mapped"] == rows[1]["edgetpu"]["total"] - 1 and "edgetpu" not in rows[0]
    assert "Edge TPU" in printed
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
        ((digits_coco, digits_coco), ["--quantize", "fp32,int4"], "--quantize int4 is unknown"),
        ((digits_coco, digits_coco), ["--init-backbone", str(garbage)], "not a readable checkpoint"),
        ((digits_coco, no_boxes), [], "validation set has no boxes"),
        ((digits_coco, digits_coco), ["--config", str(tmp_path / "gone.yaml")], "gone.yaml: config file not found"),
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


def test_a_failure_after_training_keeps_it_and_resume_redoes_only_the_export(tmp_path, digits_coco, capsys):
    work, out = tmp_path / ".out.partial", tmp_path / "out"
    # a parity check that cannot pass: raised before anything is moved into --out
    assert _run(tmp_path, digits_coco, digits_coco, "--quantize", "fp32", "--parity-tolerance", "-1") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "differs from the TF model's" in err and "--resume" in err and str(work) in err
    assert not out.exists()
    assert (work / "model" / "ckpt-2.index").is_file() and (work / "saved_model" / "saved_model.pb").is_file()
    checkpoint_time = (work / "model" / "ckpt-2.index").stat().st_mtime

    # other settings: refused, the work is kept
    assert _run(tmp_path, digits_coco, digits_coco, "--quantize", "fp32", "--resume", "--width", "0.5") == 2
    assert "config changed since the checkpoint" in capsys.readouterr().err
    assert (work / "model" / "ckpt-2.index").is_file()

    # the same settings: only the export runs again
    assert _run(tmp_path, digits_coco, digits_coco, "--quantize", "fp32", "--resume", "--parity-tolerance", "100") == 0
    assert not work.exists() and (out / "model_fp32.tflite").is_file()
    assert (out / "model" / "ckpt-2.index").stat().st_mtime == checkpoint_time
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["tflite"]) == {"fp32"} and len(metrics["loss_curve"]) == 1
