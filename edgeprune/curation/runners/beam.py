"""The Beam runner: the curation stages as Apache Beam pipelines over a resumable work dir.

Reading the annotations, fitting the prototypes, selection and the report run on the driver; decoding, embedding,
scoring and copying the kept images run on the Beam workers (:mod:`.beam_stages`, :mod:`edgeprune.beam.write`).
Selection is the same :func:`edgeprune.curation.selection.choose` on the score table, so every image-level policy
works. Dedup, ``coreset`` and ``--save-embeddings`` also need every embedding on the driver, which then reads them
from the embed stage's shards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ...atomic import atomic_output_dir, check_output_dir
from ...beam.inference import read_embeddings, unit_files
from ...beam.options import pipeline_options
from ...beam.remote import check_output, check_writable, remote_output_dir, staged_dataset
from ...beam.workdir import Stage, WorkDir
from ...beam.write import BeamWriter
from ...datasets import Dataset
from ...errors import EdgepruneError
from ...uris import is_uri, use_filesystem_options
from ..dedup import duplicate_groups, duplicate_of
from ..embed import resolve_backbone
from ..features import option_features
from ..types import CurateOptions, Scored
from .beam_stages import bad_images, read_scores, run_embed, run_fit, run_manifest, run_score, sample_rate

log = logging.getLogger(__name__)


class BeamRunner:
    """Scores with Beam pipelines; image copies are collected while the writers run and made by the Beam workers
    in :meth:`finish`."""

    name = "beam"

    def __init__(self, options: CurateOptions) -> None:
        self.options = options
        self.beam_options = pipeline_options(options.execution.beam_options)
        use_filesystem_options(self.beam_options)  # the driver's filesystem calls (s3 endpoint, credentials)
        self.writer = BeamWriter(options.output.image_mode, self.beam_options)
        self.write = self.writer.write_dataset
        self.place_image = self.writer  # collects the copy; the workers make it in finish()

    def check_output(self, out, overwrite: bool) -> None:
        """Before any work: ``out`` (a path or a URI) may be written; a missing bucket or refused credentials fail
        here."""
        if is_uri(out):
            check_output(str(out), overwrite=overwrite)
        else:
            check_output_dir(out, overwrite=overwrite)
        if is_uri(self.options.execution.work_dir):
            work = str(self.options.execution.work_dir).rstrip("/")
            check_writable(f"{work}/.probe-{uuid.uuid4().hex}", "--work-dir", work)

    @contextlib.contextmanager
    def dataset(self, path, read: Callable) -> Iterator[Dataset]:
        """The dataset ``read`` returns; at a URI, read from a local copy of its annotations with every image
        pointing at its object (:func:`edgeprune.beam.remote.staged_dataset`)."""
        if is_uri(path):
            with staged_dataset(str(path), read) as dataset:
                yield dataset
        else:
            yield read(path)

    @contextlib.contextmanager
    def output_dir(self, out, overwrite: bool, needs: int = 0) -> Iterator[Path]:
        """The local folder that becomes ``out``; for a URI, the image copies go straight to its staging prefix."""
        if not is_uri(out):
            with atomic_output_dir(out, overwrite=overwrite, needs=needs) as tmp:
                yield tmp
            return
        with remote_output_dir(str(out), overwrite=overwrite) as (local, staging):
            self.writer.send_to(local, staging)
            yield local

    def score(self, dataset, options: CurateOptions, timings: dict[str, float]):
        """``(dataset without the images that failed to decode, Scored)``."""
        return score_with_beam(dataset, options, timings, self.beam_options)

    def finish(self, timings: dict[str, float]) -> list[str]:
        """Copy the kept images and TFRecord shards on the workers."""
        started = time.perf_counter()
        copied, shards = self.writer.run(self.options.execution.work_dir, self.beam_options)
        timings["copy"] = time.perf_counter() - started
        return [f"runner beam: {copied} image files and {shards} TFRecord shards written by the Beam workers"]


def _backbone(dataset: Dataset, options: CurateOptions, timings):
    """The backbone, loaded on the driver to check it before any Beam work: the local run's, ``selfsup`` pretrained
    on the same seeded sample (:func:`edgeprune.embed.selfsup.pretraining_sample`)."""
    from ...embed import default_cache_root

    cache_dir = options.embedding.cache_dir or default_cache_root()
    return resolve_backbone(
        options.embedding, dataset, cache_dir, timings, seed=options.seed, progress=options.progress
    )


def score_with_beam(
    dataset: Dataset, options: CurateOptions, timings: dict[str, float], beam_options=None
) -> tuple[Dataset, Scored]:
    """Run stages 1-4 (each skipped when its work-dir folder is finished); returns ``(dataset without the images
    that failed to decode, Scored)`` for selection and the writers."""
    beam_options = beam_options if beam_options is not None else pipeline_options(options.execution.beam_options)
    backbone = _backbone(dataset, options, timings)  # a bad backbone fails before the work dir is touched
    work = WorkDir(
        str(options.execution.work_dir)
        if is_uri(options.execution.work_dir)
        else os.path.abspath(options.execution.work_dir)
    )
    reused: list[str] = []
    n = len(dataset)
    rate = sample_rate(options, n)
    manifest = _run("manifest", lambda: run_manifest(work, dataset), timings, reused)
    embed = _run(
        "embed", lambda: run_embed(work, manifest, dataset, backbone, options, rate, beam_options), timings, reused
    )
    failures = bad_images(embed)
    good = np.ones(n, bool)
    good[[row["index"] for row in failures]] = False
    all_rows = _driver_rows(embed, options, good)
    kept_dataset = dataset.subset(good) if not good.all() else dataset
    groups = (
        duplicate_groups(option_features(all_rows, options.clustering), options.selection.dedup)
        if options.selection.dedup is not None
        else []
    )
    representative = duplicate_of(groups, len(kept_dataset))
    candidates = np.zeros(n, bool)
    candidates[np.flatnonzero(good)] = representative < 0
    exact_fit = (
        options.selection.dedup is not None or options.selection.policy == "coreset"
    )  # every embedding is on the driver
    fit = _run(
        "cluster", lambda: run_fit(work, embed, options, good, candidates, all_rows if exact_fit else None), timings,
        reused,
    )  # fmt: skip
    score = _run("score", lambda: run_score(work, embed, fit, options, beam_options), timings, reused)
    scored, labels, distances = read_scores(score, n)
    missing = good & ~scored
    if missing.any():
        raise EdgepruneError(f"beam: {int(missing.sum())} images have no score in {score.path}; rerun to redo it")
    notes = _notes(fit, embed, failures, groups, representative, options, reused)
    embeddings = all_rows if all_rows is not None else np.zeros((len(kept_dataset), 0), np.float32)
    counts = {"cached": len(kept_dataset), "computed": 0} if "embed" in reused else {"cached": 0, "computed": n}
    return kept_dataset, Scored(
        embeddings, labels[good], distances[good], representative < 0, representative, groups,
        int(fit.info()["k"]), backbone, counts, notes,
    )  # fmt: skip


def _driver_rows(embed: Stage, options: CurateOptions, good: np.ndarray) -> np.ndarray | None:
    """Every good image's embedding on the driver, when dedup, coreset or ``--save-embeddings`` needs them."""
    if options.selection.dedup is None and options.selection.policy != "coreset" and not options.output.save_embeddings:
        return None
    indices, rows = read_embeddings(unit_files(embed.path, "embeddings"), embed.info()["dim"])
    all_rows = np.zeros((len(good), rows.shape[1]), np.float32)
    all_rows[indices] = rows
    return all_rows[good]


def _notes(fit: Stage, embed: Stage, failures, groups, representative, options: CurateOptions, reused) -> list[str]:
    notes = list(fit.info()["notes"])
    notes.append(f"runner beam: work dir {options.execution.work_dir}; stages reused: {', '.join(reused) or 'none'}")
    if failures:
        shown = "; ".join(f"{row['name']} ({row['error'][:80]})" for row in failures[:3])
        notes.append(
            f"{len(failures)} images could not be read or decoded and are left out (listed in "
            f"{embed.file('bad_images-*.jsonl')}): {shown}"
        )
    if options.selection.dedup is not None:
        notes.append(
            f"dedup: {len(groups)} groups of near-duplicates (cosine >= {options.selection.dedup}), "
            f"{int((representative >= 0).sum())} images dropped before pruning"
        )
    return notes


def _run(name: str, run, timings: dict[str, float], reused: list[str]) -> Stage:
    """Run one stage, timing it and noting when its finished folder was reused."""
    started = time.perf_counter()
    stage = run()
    elapsed = time.perf_counter() - started
    if stage.reused:
        reused.append(name)
    timings[name] = timings.get(name, 0.0) + elapsed
    return stage
