"""Training with Model Garden's task and trainer (``train_lib.run_experiment``).

Checkpoints go to ``model_dir`` every ``trainer.checkpoint_interval`` steps; running again with the same
``model_dir`` continues from the latest checkpoint (``--resume``). A progress bar shows step, loss and ETA
(the trainer's own step logs appear with ``-v``); TensorBoard summaries land in ``model_dir/train``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tensorflow as tf

from ..errors import EdgepruneError, first_line
from ..progress import progress
from ..quiet import stdout_to_log

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
    total = int(params.trainer.train_steps)
    start = min(_checkpoint_step(latest), total)
    with progress(total, "training", "step", initial=start) as bar, stdout_to_log():
        try:
            model, _ = train_lib.run_experiment(
                distribution_strategy=tf.distribute.get_strategy(),
                task=task,
                mode="train",
                params=params,
                model_dir=str(model_dir),
                train_actions=[_LossBar(bar, int(params.trainer.steps_per_loop))],
            )
        except tf.errors.DataLossError as exc:
            raise EdgepruneError(f"{model_dir}: corrupt checkpoint or record ({exc.message.splitlines()[0]})") from None
    return model


def _checkpoint_step(checkpoint: str | None) -> int:
    """The step of a ``ckpt-N`` checkpoint path (0 without one)."""
    suffix = (checkpoint or "").rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


class _LossBar:
    """An Orbit train action: advance the progress bar by one loop and show the loop's loss."""

    def __init__(self, bar, steps_per_loop: int):
        self.bar = bar
        self.steps_per_loop = steps_per_loop

    def __call__(self, output) -> None:
        loss = output.get("total_loss") if isinstance(output, dict) else None
        if loss is not None:
            self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)
        self.bar.update(min(self.steps_per_loop, self.bar.total - self.bar.n))


def loss_curve(model_dir: Path) -> list[tuple[int, float]]:
    """``(step, total_loss)`` pairs from the training summaries."""
    points = []
    for events in sorted((Path(model_dir) / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag == "total_loss":
                    points.append((int(event.step), float(tf.make_ndarray(value.tensor))))
    return sorted(points)
