"""Shared fixtures: a tiny SavedModel backbone built here, generated digit scenes, and BCCD from ../shared."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
BCCD = REPO.parent / "shared" / "datasets" / "bccd" / "BCCD"
# ``--set`` overrides that shrink the quick detector config to a seconds-per-run test model
TINY_DETECTOR_SETS = [
    "task.model.decoder.fpn.num_filters=32",
    "task.model.head.num_filters=32",
    "task.model.head.num_convs=1",
]


def shared_artifact(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A directory built once per test run and shared by every pytest-xdist worker: the first worker to ask builds
    it (``build(path)``) under an exclusive file lock, the others wait for it and reuse it. Without xdist it is an
    ordinary session-scoped directory."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's base directory, shared by the workers
    target = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (target / ".built").is_file():
                target.mkdir(parents=True, exist_ok=True)
                build(target)
                (target / ".built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


@pytest.fixture(scope="session")
def bccd() -> Path:
    """The BCCD VOC dataset shipped beside the repository (skips if this checkout has no ../shared)."""
    if not (BCCD / "Annotations").is_dir():
        pytest.skip(f"BCCD not found at {BCCD}")
    return BCCD


@pytest.fixture(scope="session")
def digits_coco(tmp_path_factory) -> Path:
    """A generated COCO dataset: 40 digit scenes of 64 px (categories 0-9) plus 3 planted near-duplicates."""
    from edgeprune.datasets.synthetic import make_digit_scenes

    return shared_artifact(
        tmp_path_factory,
        "digits",
        lambda root: make_digit_scenes(root, n_images=40, image_size=64, seed=1, duplicates=3),
    )


@pytest.fixture(scope="session")
def digits_coco_val(tmp_path_factory) -> Path:
    """A second generated COCO dataset (other seed, no duplicates): a validation set disjoint from digits_coco."""
    from edgeprune.datasets.synthetic import make_digit_scenes

    return shared_artifact(
        tmp_path_factory, "digits_val", lambda root: make_digit_scenes(root, n_images=16, image_size=64, seed=2)
    )


def build_tiny_backbone(path: Path, *, dim: int = 16, seed: int = 0) -> Path:
    """Save a two-conv-layer tf.Module as a TF2 SavedModel: [N, H, W, 3] float32 -> [N, dim]."""
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            rng = tf.random.Generator.from_seed(seed)
            self.k1 = tf.Variable(rng.normal([3, 3, 3, 8]) * 0.3)
            self.k2 = tf.Variable(rng.normal([3, 3, 8, dim]) * 0.3)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, x):
            h = tf.nn.relu(tf.nn.conv2d(x, self.k1, 2, "SAME"))
            h = tf.nn.relu(tf.nn.conv2d(h, self.k2, 2, "SAME"))
            return tf.reduce_mean(h, [1, 2])

    tf.saved_model.save(Tiny(), str(path))
    return path


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """A tiny SavedModel backbone (16-d) built and saved by this test session."""
    return shared_artifact(tmp_path_factory, "tiny_backbone", lambda root: build_tiny_backbone(root / "tiny")) / "tiny"


def assert_same_dataset(a, b, *, compare_bytes: bool = True) -> None:
    """Same images (ids, names, sizes, bytes), boxes (category, coordinates) and categories."""
    assert [(c.id, c.name) for c in a.categories] == [(c.id, c.name) for c in b.categories]
    assert len(a.images) == len(b.images)
    for x, y in zip(sorted(a.images, key=lambda i: str(i.id)), sorted(b.images, key=lambda i: str(i.id))):
        assert (str(x.id), x.file_name, x.width, x.height, x.label) == (
            str(y.id),
            y.file_name,
            y.width,
            y.height,
            y.label,
        )
        assert [bx.category_id for bx in x.boxes] == [by.category_id for by in y.boxes]
        np.testing.assert_allclose(
            [bx.bbox for bx in x.boxes] or np.zeros((0, 4)), [by.bbox for by in y.boxes] or np.zeros((0, 4)), atol=1e-3
        )
        if compare_bytes:
            assert x.read_bytes() == y.read_bytes()


@pytest.fixture(scope="session")
def pixel_backbone(tmp_path_factory) -> Path:
    """A SavedModel whose embedding is the image resized to 16x16 and flattened: similar images, similar vectors."""
    import tensorflow as tf

    class Pixels(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, x):
            return tf.reshape(tf.image.resize(x, [16, 16]), [-1, 16 * 16 * 3])

    build = lambda root: tf.saved_model.save(Pixels(), str(root / "pixels"))  # noqa: E731
    return shared_artifact(tmp_path_factory, "pixel_backbone", build) / "pixels"


# A tiny detector (128 px, width 0.35, 30 steps on generated digit scenes), trained once per test session and shared
# by the train-export, export-graph, on-device-client and select --model tests.
def _tiny_detector_args() -> list[str]:
    from tests.detect.conftest import TINY

    return TINY


@pytest.fixture(scope="session")
def trained(tmp_path_factory, digits_coco) -> Path:
    """The ``train-export`` output of the tiny detector (built once per run, shared by the xdist workers)."""
    from edgeprune.cli import main

    def build(root: Path) -> None:
        argv = ["-q", "train-export", str(digits_coco), "--val", str(digits_coco), "--out", str(root / "run")]
        argv += ["--steps", "30", "--checkpoint-every", "10", "--calibration-steps", "8", "--parity-tolerance", "100"]
        assert main([*argv, *_tiny_detector_args()]) == 0

    return shared_artifact(tmp_path_factory, "trained", build) / "run"


# The test modules that use the shared tiny detector (``trained``): one xdist worker runs them all, so the other never
# waits for it to be built.
DETECTOR_MODULES = {
    "tests/detect/test_checkpoint_eval.py",
    "tests/detect/test_clients.py",
    "tests/detect/test_init_detector.py",
    "tests/detect/test_train_export.py",
    "tests/test_next_batch.py",
}


def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (``make test`` runs ``-n 2``): every test module runs on one worker, so a module-scoped
    fixture (a Beam run, a label-loop, a browser) is built once, and ``DETECTOR_MODULES`` share one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "detector" if module in DETECTOR_MODULES else module

    return ModuleScheduling(config, log)
