"""Training with Model Garden's task and trainer (``train_lib.run_experiment``).

Checkpoints go to ``model_dir`` every ``trainer.checkpoint_interval`` steps; running again with the same
``model_dir`` continues from the latest checkpoint (``--resume``). Step, loss and steps/s are logged by the
trainer; TensorBoard summaries land in ``model_dir/train``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tensorflow as tf

from ..errors import EdgepruneError, first_line

log = logging.getLogger(__name__)


def check_checkpoint(path: str) -> None:
    """Fail early, with the file named, if ``path`` is not a readable TF checkpoint."""
    target = path
    if Path(path).is_dir():
        target = tf.train.latest_checkpoint(path) or str(
            next(iter(sorted(Path(path).glob("*.index"))), "")
        ).removesuffix(".index")
    try:
        variables = tf.train.list_variables(target)
    except (tf.errors.OpError, ValueError) as exc:
        raise EdgepruneError(f"{path}: not a readable checkpoint ({first_line(exc)})") from None
    if not variables:
        raise EdgepruneError(f"{path}: checkpoint holds no variables")


def train(params, model_dir: Path):
    """Train (or continue training) the detector; returns the trained Keras model."""
    import official.vision.registry_imports  # noqa: F401
    from official.core import task_factory, train_lib

    if params.task.init_checkpoint:
        check_checkpoint(params.task.init_checkpoint)
    latest = tf.train.latest_checkpoint(str(model_dir))
    if latest:
        check_checkpoint(latest)
    task = task_factory.get_task(params.task, logging_dir=str(model_dir))
    try:
        model, _ = train_lib.run_experiment(
            distribution_strategy=tf.distribute.get_strategy(),
            task=task,
            mode="train",
            params=params,
            model_dir=str(model_dir),
        )
    except tf.errors.DataLossError as exc:
        raise EdgepruneError(f"{model_dir}: corrupt checkpoint or record ({exc.message.splitlines()[0]})") from None
    return model


def loss_curve(model_dir: Path) -> list[tuple[int, float]]:
    """``(step, total_loss)`` pairs from the training summaries."""
    points = []
    for events in sorted((Path(model_dir) / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag == "total_loss":
                    points.append((int(event.step), float(tf.make_ndarray(value.tensor))))
    return sorted(points)
