"""The local runner: every stage in this process, images through ``tf.data`` and the embedding cache."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Callable, Iterator

from ...atomic import atomic_output_dir, check_output_dir
from ...datasets import write_dataset
from ..dedup import duplicate_groups, duplicate_of
from ..embed import embed_for_curation
from ..features import option_features
from ..fit import cluster_crops, cluster_images
from ..types import CurateOptions, Scored


def score_dataset(dataset, options: CurateOptions, timings: dict[str, float] | None = None) -> Scored:
    """Embed (cached) or load ``--embeddings``, deduplicate, cluster and score every image, at image or object
    level."""
    timings = {} if timings is None else timings
    embedded = embed_for_curation(dataset, options, timings)
    groups = []
    if options.dedup is not None:
        groups = duplicate_groups(option_features(embedded.images, options), options.dedup)
    representative = duplicate_of(groups, len(dataset))
    candidates = representative < 0  # near-duplicates leave before clustering and selection
    if options.level == "object":
        clustering = cluster_crops(dataset, embedded.crops, embedded.crop_vectors, candidates, options, timings)
    else:
        clustering = cluster_images(option_features(embedded.images, options), candidates, options, timings)
    notes = clustering.notes
    if options.embeddings is not None:
        notes.append(f"embeddings read from {options.embeddings}; no backbone was loaded")
    if options.dedup is not None:
        notes.append(
            f"dedup: {len(groups)} groups of near-duplicates (cosine >= {options.dedup}), "
            f"{int((~candidates).sum())} images dropped before pruning"
        )
    return Scored(
        embedded.images,
        clustering.labels,
        clustering.distances,
        candidates,
        representative,
        groups,
        clustering.k,
        embedded.backbone,
        embedded.counts,
        notes,
        clustering.crops,
        clustering.objects,
        embedded.crop_vectors,
    )


class LocalRunner:
    """Scores in process; the dataset writers copy (or link) images themselves."""

    name = "local"

    def __init__(self, options: CurateOptions) -> None:
        self.options = options
        self.image_mode = options.image_mode
        self.write = functools.partial(write_dataset, image_mode=options.image_mode)

    def score(self, dataset, options: CurateOptions, timings: dict[str, float]):
        """``(dataset, Scored)``: every image of the dataset is scored."""
        return dataset, score_dataset(dataset, options, timings)

    def check_output(self, out: Path, overwrite: bool) -> None:
        """Before any work: ``out`` may be written."""
        check_output_dir(out, overwrite=overwrite)

    @contextlib.contextmanager
    def dataset(self, path, read: Callable) -> Iterator:
        """The dataset ``read(path)`` returns."""
        yield read(path)

    def output_dir(self, out: Path, overwrite: bool):
        """The temporary folder that becomes ``out`` (:func:`edgeprune.atomic.atomic_output_dir`)."""
        return atomic_output_dir(out, overwrite=overwrite)

    def finish(self, timings: dict[str, float]) -> list[str]:
        """Nothing deferred."""
        return []
