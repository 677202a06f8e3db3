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

from ..datasets import check_boxes, read_with_options
from ..input_guard import check_apart, dataset_inputs
from ..uris import is_uri
from .checks import check_clusters, check_locations, check_options
from .embed import backbone_name
from .groups import group_labels
from .report import curate_settings, write_curate_report
from .runners import make_runner
from .select import check_keep
from .selection import choose, ranks
from .types import CurateOptions, CurateResult, Scored
from .write import output_bytes, write_datasets, write_tables


def checked_for_curation(dataset, options: CurateOptions) -> tuple[object, int]:
    """The checks of a dataset that has been read; returns it (invalid boxes dropped when asked) and how many
    invalid boxes it had."""
    if not is_uri(options.out):
        check_apart(options.out, dataset_inputs(dataset))
    n_invalid = check_boxes(dataset, drop=options.output.drop_invalid_boxes)
    if options.clustering.level == "image":
        check_clusters(options.clustering.clusters, len(dataset))
    if options.selection.groups is not None:
        group_labels(options.selection.groups, [img.file_name for img in dataset.images])  # every image has one
    return dataset, n_invalid


def curate(path: Path | str, options: CurateOptions) -> CurateResult:
    """Run the whole curation; returns what was done. Raises :class:`EdgepruneError` for user mistakes."""
    check_keep(options.selection.keep)
    check_options(options)
    check_locations(path, options)
    runner = make_runner(options)
    runner.check_output(options.out, options.output.overwrite)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cache_dir = options.embedding.cache_dir  # frames of videos are cached beside the embeddings
    with runner.dataset(path, lambda where: read_with_options(where, options.reading, cache_dir)) as dataset:
        dataset, n_invalid = checked_for_curation(dataset, options)
        timings["read"] = time.perf_counter() - started
        return _curate(path, dataset, n_invalid, runner, options, timings)


def _curate(path, dataset, n_invalid: int, runner, options: CurateOptions, timings: dict[str, float]):
    """Score, select and write a dataset that has been read."""
    dataset, scored = runner.score(dataset, options, timings)
    started = time.perf_counter()
    kept, selection_notes = choose(dataset, scored, options)
    ranked = ranks(scored)
    timings["select"] = time.perf_counter() - started
    notes = scored.notes + selection_notes
    if n_invalid:
        notes.append(f"{n_invalid} invalid boxes {'dropped' if options.output.drop_invalid_boxes else 'kept'}")
    started = time.perf_counter()
    needs = output_bytes(dataset, kept, options)
    with runner.output_dir(options.out, options.output.overwrite, needs) as tmp:
        output_format, renumbered, write_notes = write_datasets(tmp, dataset, kept, options, runner.write)
        notes += write_notes
        write_tables(tmp, dataset, scored, kept, ranked, options, runner.place_image)
        notes += runner.finish(timings)
        settings = curate_settings(path, dataset, scored, options, output_format)
        write_curate_report(tmp / "report.html", path, dataset, scored, kept, notes, settings, options, timings)
        result = _result(options, dataset, scored, kept, n_invalid, output_format, renumbered, timings, notes)
        timings["write"] = time.perf_counter() - started - timings.get("map", 0.0)  # the report's map: its own stage
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
        backbone_name(scored.backbone, options.embedding.embeddings),
        scored.cache_counts["cached"],
        scored.cache_counts["computed"],
        n_invalid,
        int((~scored.candidates).sum()),
        timings,
        notes,
        renumbered,
        options.execution.runner,
    )
