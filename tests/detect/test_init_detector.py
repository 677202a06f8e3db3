"""``--init-detector``: training starts from every layer of an earlier train-export output, and a detector that does
not fit (other classes, other layer shapes, not a run) is refused with one line before any step."""

import re

import numpy as np
import tensorflow as tf

from edgeprune.cli import main
from tests.detect.conftest import TINY

FROZEN = [
    "--set",
    "trainer.optimizer_config.learning_rate.cosine.initial_learning_rate=0.0",
    "--set",
    "trainer.optimizer_config.warmup.linear.warmup_learning_rate=0.0",
]


def _train(tmp_path, data, *extra, out="out"):
    argv = ["-q", "train-export", str(data), "--val", str(data), "--out", str(tmp_path / out), "--steps", "2"]
    return main([*argv, "--quantize", "fp32", "--parity-tolerance", "100", *TINY, *extra])


def _train_checkpoint(tmp_path, data, out, **given):
    """Two frozen steps through the Python API without the export (the checkpoint is what is compared here; the
    CLI flag and its refusals are tested below): as ``scaling --init-detector`` trains its cells."""
    from edgeprune.detect.pipeline import TrainExportOptions, train_export

    sets = [value for flag, value in zip(TINY[::2], TINY[1::2]) if flag == "--set"]
    options = TrainExportOptions(
        out=tmp_path / out, config=TINY[1], steps=2, batch_size=4, image_size=128, width=0.35, export=False,
        quantize=[], overrides=sets + FROZEN[1::2], **given,
    )  # fmt: skip
    return train_export(str(data), str(data), options)


def _kernels(checkpoint: str) -> dict[str, np.ndarray]:
    """The convolution kernels of a training checkpoint (BatchNorm statistics move even at learning rate 0)."""
    return {
        name: tf.train.load_variable(checkpoint, name)
        for name, _ in tf.train.list_variables(checkpoint)
        if "kernel" in name and "OPTIMIZER_SLOT" not in name
    }


def test_training_starts_from_every_layer_of_the_earlier_detector(trained, digits_coco, tmp_path):
    _train_checkpoint(tmp_path, digits_coco, "out", init_detector=str(trained))
    source = _kernels(tf.train.latest_checkpoint(str(trained / "model")))
    started = _kernels(tf.train.latest_checkpoint(str(tmp_path / "out" / "model")))
    assert source.keys() == started.keys()
    assert any("head" in name for name in source) and any("backbone" in name for name in source)
    for name, value in source.items():
        np.testing.assert_array_equal(started[name], value, err_msg=name)
    _train_checkpoint(tmp_path, digits_coco, "scratch")  # control: without it, the head is new
    fresh = _kernels(tf.train.latest_checkpoint(str(tmp_path / "scratch" / "model")))
    head = [name for name in source if "head" in name]
    assert all(not np.array_equal(fresh[name], source[name]) for name in head)


def test_a_detector_that_does_not_fit_is_refused(trained, digits_coco, tmp_path, capsys):
    (tmp_path / "not_a_run").mkdir()
    cases = [
        (["--init-detector", str(tmp_path / "not_a_run")], "must be a train-export output"),
        (["--init-detector", str(trained), "--map-categories", "*=digit"], r"trained on classes \[.*\], this run"),
        (["--init-detector", str(trained), "--width", "0.5"], "does not fit this detector"),
        (["--init-detector", str(trained), "--init-backbone", str(trained)], "exclude each other"),
    ]
    for extra, message in cases:
        assert _train(tmp_path, digits_coco, *extra) == 2, message
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert re.search(message, err), err
        assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()
