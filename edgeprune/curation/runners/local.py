"""The local runner: every stage in this process, images through ``tf.data`` and the embedding cache."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Callable, Iterator

from ...atomic import atomic_output_dir, check_output_dir
from ...datasets import Dataset, write_dataset
from ...datasets.files import copy_image
from ..pipeline import score_dataset
from ..types import CurateOptions, Scored


class LocalRunner:
    """Scores in process; the dataset writers copy (or link) images themselves."""

    name = "local"

    def __init__(self, options: CurateOptions) -> None:
        self.options = options
        self.write = functools.partial(write_dataset, image_mode=options.output.image_mode)
        self.place_image = functools.partial(copy_image, mode=options.output.image_mode)

    def score(self, dataset, options: CurateOptions, timings: dict[str, float]) -> tuple[Dataset, Scored]:
        """``(dataset, Scored)``: every image of the dataset is scored."""
        return dataset, score_dataset(dataset, options, timings)

    def check_output(self, out: Path, overwrite: bool) -> None:
        """Before any work: ``out`` may be written."""
        check_output_dir(out, overwrite=overwrite)

    @contextlib.contextmanager
    def dataset(self, path, read: Callable) -> Iterator:
        """The dataset ``read(path)`` returns."""
        yield read(path)

    def output_dir(self, out: Path, overwrite: bool, needs: int = 0):
        """The temporary folder that becomes ``out`` (:func:`edgeprune.atomic.atomic_output_dir`)."""
        return atomic_output_dir(out, overwrite=overwrite, needs=needs)

    def finish(self, timings: dict[str, float]) -> list[str]:
        """Nothing deferred."""
        return []
