"""The entry of a curation run: check, read, score on the chosen runner, select, write, report.

``curate`` is the one function the CLI and the Python API call; it owns the atomic output directory. The stages it
calls live one per module beside it, the engines in :mod:`.runners`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..atomic import atomic_output_dir, check_output_dir
from ..datasets import check_boxes, read_with_options
from ..input_guard import check_apart, dataset_inputs
from .checks import check_clusters, check_options, curate_inputs
from .embed import backbone_name
from .report import curate_settings, write_curate_report
from .runners import make_runner
from .select import check_keep
from .selection import choose, ranks
from .types import CurateOptions, CurateResult, Scored
from .write import write_datasets, write_tables


def read_for_curation(path: Path | str, options: CurateOptions, timings: dict[str, float]) -> tuple[object, int]:
    """The read stage: the dataset (with ``--map-categories`` applied) and the number of invalid boxes, after the
    checks that need it (output apart from every input file, ``--clusters`` against the image count)."""
    started = time.perf_counter()
    dataset = read_with_options(path, options)
    check_apart(options.out, dataset_inputs(dataset))
    n_invalid = check_boxes(dataset, drop=options.drop_invalid_boxes)
    if options.level == "image":
        check_clusters(options.clusters, len(dataset))
    timings["read"] = time.perf_counter() - started
    return dataset, n_invalid


def curate(path: Path | str, options: CurateOptions) -> CurateResult:
    """Run the whole curation; returns what was done. Raises :class:`EdgepruneError` for user mistakes."""
    check_keep(options.keep)
    check_options(options)
    check_output_dir(options.out, overwrite=options.overwrite)
    check_apart(options.out, curate_inputs(path, options))
    timings: dict[str, float] = {}
    dataset, n_invalid = read_for_curation(path, options, timings)
    runner = make_runner(options)
    dataset, scored = runner.score(dataset, options, timings)
    started = time.perf_counter()
    kept, selection_notes = choose(dataset, scored, options)
    ranked = ranks(scored)
    timings["select"] = time.perf_counter() - started
    notes = scored.notes + selection_notes
    if n_invalid:
        notes.append(f"{n_invalid} invalid boxes {'dropped' if options.drop_invalid_boxes else 'kept'}")
    started = time.perf_counter()
    with atomic_output_dir(options.out, overwrite=options.overwrite) as tmp:
        output_format, renumbered, write_notes = write_datasets(tmp, dataset, kept, options, runner.write)
        notes += write_notes
        write_tables(tmp, dataset, scored, kept, ranked, options, runner.image_mode)
        notes += runner.finish(timings)
        settings = curate_settings(path, dataset, scored, options, output_format)
        write_curate_report(tmp / "report.html", path, dataset, scored, kept, notes, settings, options, timings)
        result = _result(options, dataset, scored, kept, n_invalid, output_format, renumbered, timings, notes)
        timings["write"] = time.perf_counter() - started
        (tmp / "summary.json").write_text(json.dumps(asdict(result), default=str, indent=2))
    return result


def _result(options, dataset, scored: Scored, kept: np.ndarray, n_invalid, output_format, renumbered, timings, notes):
    pruned_boxes = sum(len(img.boxes) for img, keep in zip(dataset.images, kept) if keep)
    return CurateResult(
        options.out,
        len(dataset),
        int(kept.sum()),
        dataset.num_boxes(),
        pruned_boxes,
        scored.k,
        output_format,
        backbone_name(scored.backbone, options.embeddings),
        scored.cache_counts["cached"],
        scored.cache_counts["computed"],
        n_invalid,
        int((~scored.candidates).sum()),
        timings,
        notes,
        renumbered,
        options.runner,
    )
