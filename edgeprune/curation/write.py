"""The write stage: the pruned (and dropped) dataset in the input's format or ``--out-format``, and the tables
beside it (``scores.csv``, ``objects.csv``, ``embeddings.npz``, the cluster folders). Everything lands in the
temporary output directory; the caller renames it into place."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..datasets import ImageRecord
from ..datasets.tfrecord import renumbered_label_ids
from .embed import save_embeddings
from .outputs import export_folders, write_object_scores, write_scores
from .types import CurateOptions, Scored


def write_datasets(tmp: Path, dataset, kept: np.ndarray, options: CurateOptions, write) -> tuple[str, dict, list]:
    """``pruned/`` (and ``dropped/`` with ``--write-dropped``) through ``write(dataset, out_dir, format=)``, the
    runner's dataset writer. Returns ``(output format, renumbered TFRecord label ids, notes)``."""
    output_format = write(dataset.subset(kept), tmp / "pruned", format=options.output.out_format)
    renumbered = renumbered_label_ids(dataset, output_format)
    notes = []
    if renumbered:
        notes.append(
            "TFRecord label ids are 1..N (0 is background): category ids renumbered "
            + ", ".join(f"{old}->{new}" for old, new in renumbered.items())
        )
    if options.output.write_dropped:
        write(dataset.subset(~kept), tmp / "dropped", format=options.output.out_format)
    return output_format, renumbered, notes


def output_bytes(dataset, kept: np.ndarray, options: CurateOptions) -> int:
    """About how many bytes curate will write into ``--out``: the copied images of ``pruned/`` (and ``dropped/``,
    and the cluster folders), plus a margin for the tables and the report; linked images cost nothing."""
    if options.output.image_mode != "copy":
        return 0
    sizes = np.array([img.stored_size() for img in dataset.images], np.int64)
    copied = sizes[kept].sum() + (sizes[~kept].sum() if options.output.write_dropped else 0)
    copied += sizes.sum() if options.output.export_folders else 0
    return int(copied) + (1 << 20)


def write_tables(
    tmp: Path,
    dataset,
    scored: Scored,
    kept: np.ndarray,
    ranks: np.ndarray,
    options: CurateOptions,
    place_image: Callable[[ImageRecord, Path], None],
) -> None:
    """``scores.csv`` always; ``objects.csv`` at object level; ``embeddings.npz`` and the cluster folders when
    asked (the folders place their images with the runner's ``place_image``)."""
    write_scores(tmp / "scores.csv", dataset, scored.labels, scored.distances, ranks, kept, scored.representative)
    if scored.objects is not None:
        write_object_scores(tmp / "objects.csv", dataset, scored.crops, scored.objects, kept)
    if options.output.save_embeddings:
        save_embeddings(tmp / "embeddings.npz", dataset, scored.embeddings, scored.crops, scored.crop_embeddings)
    if options.output.export_folders:
        candidates = scored.candidates
        export_folders(
            tmp / "folders",
            dataset.subset(candidates),
            scored.labels[candidates],
            ranks[candidates],
            keep=options.selection.keep,
            which=options.output.export_folders,
            place_image=place_image,
        )
