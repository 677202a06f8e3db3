"""The engines a curation runs on. A runner scores a dataset (embed, dedup, fit, score) and writes images; both
call the same stage functions of :mod:`edgeprune.curation`, and neither imports the other. :class:`Runner` is what
``curate`` asks of one; ``tests/test_architecture.py`` checks that every runner defines it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, Protocol

from ...datasets import Dataset, ImageRecord
from ..types import CurateOptions, Scored


class Runner(Protocol):
    """What ``curate`` (:mod:`edgeprune.curation.run`) calls, in this order."""

    name: str

    def check_output(self, out, overwrite: bool) -> None:
        """Before any work: ``out`` (a path, or a URI where the runner supports them) may be written."""

    def dataset(self, path, read: Callable[[object], Dataset]) -> AbstractContextManager[Dataset]:
        """The dataset ``read`` returns for ``path``, for as long as the block runs."""

    def score(self, dataset: Dataset, options: CurateOptions, timings: dict[str, float]) -> tuple[Dataset, Scored]:
        """Embed, deduplicate, fit and score: the dataset (less any image the runner could not decode) and its
        scores."""

    def output_dir(self, out, overwrite: bool, needs: int = 0) -> AbstractContextManager[Path]:
        """The local folder that becomes ``out`` when the block ends without an error; ``needs``: the bytes it will
        take, where known (checked against the space free first)."""

    def write(self, dataset: Dataset, out_dir: Path, *, format: str | None = None) -> str:
        """Write ``dataset`` into ``out_dir``; returns the format written."""

    def place_image(self, img: ImageRecord, target: Path) -> None:
        """Put one image's bytes at ``target`` (now, or in :meth:`finish`)."""

    def finish(self, timings: dict[str, float]) -> list[str]:
        """Run the deferred work before the output is published; notes for the report."""


def make_runner(options: CurateOptions) -> Runner:
    """The runner ``options.execution.runner`` names (Beam is imported only when asked for)."""
    if options.execution.runner == "beam":
        from .beam import BeamRunner

        return BeamRunner(options)
    from .local import LocalRunner

    return LocalRunner(options)
