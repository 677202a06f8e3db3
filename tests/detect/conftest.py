"""A tiny detector (128 px, width 0.35, 30 steps on generated digit scenes), trained once per test session and
shared by the train-export, export-graph and on-device-client tests."""

import pytest

from edgeprune.cli import main
from edgeprune.detect.config import QUICK_CONFIG
from tests.conftest import TINY_DETECTOR_SETS

SETS = [arg for override in TINY_DETECTOR_SETS for arg in ("--set", override)]
TINY = ["--config", QUICK_CONFIG, "--image-size", "128", "--width", "0.35", "--batch-size", "4", *SETS]


@pytest.fixture(scope="session")
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
