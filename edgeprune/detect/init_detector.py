"""``--init-detector``: start training from a detector edgeprune already trained, not only from a backbone.

Practitioners fine-tune the detector they shipped last time on the new data. Model Garden initialises a whole
RetinaNet (``init_checkpoint_modules='all'``) from a checkpoint holding its ``backbone``, ``decoder`` and ``head``
at the top level, as Model Garden's training checkpoints do. This module finds that checkpoint in a
``train-export`` output (or a ``scaling`` cell's ``model/``) and checks that it fits the detector about to be
trained: same classes in the same order, same layer shapes.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import tensorflow as tf

from ..errors import EdgepruneError, first_line
from .data import read_labelmap

log = logging.getLogger(__name__)


def detector_checkpoint(run_dir: Path) -> str:
    """The latest training checkpoint of a ``train-export`` output (or partial output, or scaling cell model)."""
    run_dir = Path(run_dir)
    if not (run_dir / "params.yaml").is_file() or not (run_dir / "labelmap.txt").is_file():
        raise EdgepruneError(
            f"{run_dir}: --init-detector must be a train-export output (params.yaml, labelmap.txt, model/)"
        )
    checkpoint = tf.train.latest_checkpoint(str(run_dir / "model"))
    if checkpoint is None:
        raise EdgepruneError(f"{run_dir}: init_detector={run_dir} has no checkpoint in {run_dir / 'model'}")
    return checkpoint


def check_same_labels(run_dir: Path, labels: list[str]) -> None:
    """Refuse a detector trained on other classes (or the same ones in another order): its head would score the
    wrong class for each output."""
    theirs = read_labelmap(Path(run_dir) / "labelmap.txt").names
    if theirs != list(labels):
        raise EdgepruneError(
            f"{run_dir}: --init-detector was trained on classes {theirs}, this run trains {list(labels)}; "
            "use --map-categories so both have the same classes in the same order"
        )


def init_checkpoint(params, run_dir: Path, labels: list[str]) -> str:
    """The checkpoint of ``run_dir`` to set as ``task.init_checkpoint`` (with ``init_checkpoint_modules='all'``),
    after checking that its classes and every layer's shape fit the detector ``params`` builds. Input size may
    differ (no weight depends on it); widths, levels, filters and classes may not."""
    import official.vision.registry_imports  # noqa: F401
    from official.core import task_factory

    source = detector_checkpoint(run_dir)
    check_same_labels(run_dir, labels)
    building = copy.deepcopy(params)
    building.task.init_checkpoint = None
    model = task_factory.get_task(building.task).build_model()
    try:
        status = tf.train.Checkpoint(**model.checkpoint_items).read(source)
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as exc:
        raise EdgepruneError(
            f"{run_dir}: --init-detector does not fit this detector (width, levels, filters or head differ: "
            f"{first_line(exc)})"
        ) from None
    log.info("init-detector: every layer starts from %s", source)
    return source
