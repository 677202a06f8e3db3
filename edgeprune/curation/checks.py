"""Checks of a curation run's options and paths, before any work: a user mistake fails in a second, not after the
embedding."""

from __future__ import annotations

from pathlib import Path

from ..cluster.autok import AUTO_CHOICES, parse_k
from ..errors import EdgepruneError
from ..input_guard import check_apart
from ..uris import is_uri
from .objects import AGGREGATES, GROUPINGS
from .select import GROUPED_POLICIES, POLICIES
from .types import RUNNERS, CurateOptions, SelectionSettings


def check_clusters(spec: str | int, n_images: int) -> None:
    """Reject a bad ``clusters`` value before any embedding work (auto values are resolved later)."""
    if str(spec).strip().lower() not in AUTO_CHOICES:
        parse_k(spec, n_images)


def check_options(options: CurateOptions) -> None:
    """Reject inconsistent level/aggregation/policy/runner settings before any work. Messages name the options as
    ``name=value`` (the CLI shows them as its flags)."""
    clustering, selection = options.clustering, options.selection
    if clustering.level not in ("image", "object"):
        raise EdgepruneError(f"level={clustering.level} is not a level; use image or object")
    if clustering.aggregate not in AGGREGATES:
        raise EdgepruneError(f"aggregate={clustering.aggregate} is unknown; use one of {', '.join(AGGREGATES)}")
    if clustering.object_clusters not in GROUPINGS:
        raise EdgepruneError(
            f"object_clusters={clustering.object_clusters} is unknown; use one of {', '.join(GROUPINGS)}"
        )
    if clustering.crop_padding < 0 or clustering.min_crop_size < 0:
        raise EdgepruneError(
            f"crop_padding={clustering.crop_padding} and min_crop_size={clustering.min_crop_size} must not be negative"
        )
    if selection.policy not in POLICIES:
        raise EdgepruneError(f"policy={selection.policy} is unknown; choose one of {', '.join(POLICIES)}")
    if selection.policy in ("coreset", "diversity", "typical", "probcover", "zcore") and clustering.level == "object":
        raise EdgepruneError(f"policy={selection.policy} covers the image embedding space; use it with level=image")
    check_coverage(selection)
    if selection.min_per_category < 0:
        raise EdgepruneError(f"min_per_category={selection.min_per_category} must not be negative")
    check_runner(options)


def check_coverage(selection: SelectionSettings) -> None:
    """The coverage policies' parameters and ``groups``."""
    if selection.groups is not None and selection.policy not in GROUPED_POLICIES:
        raise EdgepruneError(
            f"groups={selection.groups} deals a policy's order over the groups: use it with policy="
            + ", ".join(GROUPED_POLICIES)
        )
    delta = selection.probcover_delta
    if delta is not None and not 0.0 < delta <= 2.0:
        raise EdgepruneError(f"probcover_delta={delta} must be a distance in (0, 2] between unit vectors")
    if not 0.0 <= selection.ccs_beta < 1.0:
        raise EdgepruneError(f"ccs_beta={selection.ccs_beta} must be a share in [0, 1)")
    if selection.ccs_strata < 1:
        raise EdgepruneError(f"ccs_strata={selection.ccs_strata} must be at least 1")


def check_runner(options: CurateOptions) -> None:
    """``runner=beam``: Beam installed, a work dir, valid ``beam_options``, an image-level run on a backbone."""
    execution = options.execution
    if execution.runner not in RUNNERS:
        raise EdgepruneError(f"runner={execution.runner} is unknown; use {' or '.join(RUNNERS)}")
    if execution.runner == "local":
        if execution.beam_options or execution.work_dir:
            given = "beam_options" if execution.beam_options else "work_dir"
            raise EdgepruneError(f"{given}={getattr(execution, given)} applies to runner=beam only")
        return
    from ..beam.options import pipeline_options

    if not execution.work_dir:
        raise EdgepruneError(
            "runner=beam needs a work directory: work_dir=PATH (a local path or a Beam filesystem URI such as gs://...)"
        )
    if options.clustering.level == "object":
        raise EdgepruneError("level=object runs on one machine only; use runner=local")
    if options.embedding.embeddings is not None:
        raise EdgepruneError(
            f"embeddings={options.embedding.embeddings} reads one file on one machine; use runner=local"
        )
    if options.embedding.embed_runtime != "tf":
        raise EdgepruneError(
            f"embed_runtime={options.embedding.embed_runtime} runs on the local runner; Beam's workers embed with tf"
        )
    if execution.sample_per_cluster < 1:
        raise EdgepruneError(f"sample_per_cluster={execution.sample_per_cluster} must be at least 1")
    pipeline_options(execution.beam_options)


def check_locations(path: Path | str, options: CurateOptions) -> None:
    """URIs (``s3://``, ``gs://``) only with ``--runner beam`` and copied images; a local output apart from every
    local input."""
    uris = [name for name, where in (("the dataset", path), ("--out", options.out)) if is_uri(where)]
    if uris and options.execution.runner != "beam":
        raise EdgepruneError(f"{' and '.join(uris)} at a URI need runner=beam (and pip install 'edgeprune[s3]')")
    if uris and options.output.image_mode != "copy":
        raise EdgepruneError(
            f"image_mode={options.output.image_mode} cannot link objects at a URI; use image_mode=copy"
        )
    if is_uri(options.out):
        out = str(options.out).rstrip("/") + "/"
        for name, where in (("the dataset", path), ("--work-dir", options.execution.work_dir)):
            other = str(where).rstrip("/") + "/"
            if is_uri(where) and (out.startswith(other) or other.startswith(out)):
                raise EdgepruneError(f"out={options.out} overlaps {name} {where}; write it elsewhere")
    else:
        check_apart(options.out, curate_inputs(path, options))


def curate_inputs(path: Path | str, options: CurateOptions) -> list[tuple[str, Path | str | None]]:
    """The paths a curate run reads (or keeps, as its caches), named as the options name them."""
    from ..storage import default_cache_root

    work_dir = (
        options.execution.work_dir if options.execution.work_dir and "://" not in options.execution.work_dir else None
    )
    mapping = options.reading.map_categories
    return [
        ("the dataset", None if is_uri(path) else path),
        ("--images", options.reading.images_dir),
        ("--label-map", options.reading.label_map),
        ("--embeddings", options.embedding.embeddings),
        ("--map-categories", mapping if Path(str(mapping)).is_file() else None),
        ("--cache-dir", options.embedding.cache_dir or default_cache_root()),
        ("--work-dir", work_dir),
    ]
