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
from .types import RUNNERS, CurateOptions


def check_clusters(spec: str | int, n_images: int) -> None:
    """Reject a bad ``--clusters`` value before any embedding work (auto values are resolved later)."""
    if str(spec).strip().lower() not in AUTO_CHOICES:
        parse_k(spec, n_images)


def check_options(options: CurateOptions) -> None:
    """Reject inconsistent level/aggregation/policy/runner settings before any work."""
    if options.clustering.level not in ("image", "object"):
        raise EdgepruneError(f"--level must be image or object, got {options.clustering.level!r}")
    if options.clustering.aggregate not in AGGREGATES:
        raise EdgepruneError(
            f"--aggregate must be one of {', '.join(AGGREGATES)}, got {options.clustering.aggregate!r}"
        )
    if options.clustering.object_clusters not in GROUPINGS:
        raise EdgepruneError(
            f"--object-clusters must be one of {', '.join(GROUPINGS)}, got {options.clustering.object_clusters!r}"
        )
    if options.clustering.crop_padding < 0 or options.clustering.min_crop_size < 0:
        raise EdgepruneError("--crop-padding and --min-crop-size must not be negative")
    if options.selection.policy not in POLICIES:
        raise EdgepruneError(f"unknown policy {options.selection.policy!r}; choose one of {', '.join(POLICIES)}")
    if (
        options.selection.policy in ("coreset", "typical", "probcover", "zcore")
        and options.clustering.level == "object"
    ):
        raise EdgepruneError(
            f"--policy {options.selection.policy} covers the image embedding space; use it with --level image"
        )
    check_coverage(options)
    if options.selection.min_per_category < 0:
        raise EdgepruneError(f"--min-per-category must not be negative, got {options.selection.min_per_category}")
    check_runner(options)


def check_coverage(options: CurateOptions) -> None:
    """The coverage policies' parameters and ``--groups``."""
    if options.selection.groups is not None and options.selection.policy not in GROUPED_POLICIES:
        raise EdgepruneError(
            f"--groups deals a policy's order over the groups: use it with --policy {', '.join(GROUPED_POLICIES)}"
        )
    if options.selection.probcover_delta is not None and not 0.0 < options.selection.probcover_delta <= 2.0:
        delta = options.selection.probcover_delta
        raise EdgepruneError(f"--probcover-delta must be a distance in (0, 2] between unit vectors, got {delta}")
    if not 0.0 <= options.selection.ccs_beta < 1.0:
        raise EdgepruneError(f"--ccs-beta must be a share in [0, 1), got {options.selection.ccs_beta}")
    if options.selection.ccs_strata < 1:
        raise EdgepruneError(f"--ccs-strata must be at least 1, got {options.selection.ccs_strata}")


def check_runner(options: CurateOptions) -> None:
    """``--runner beam``: Beam installed, a work dir, valid ``--beam-options``, an image-level run on a backbone."""
    if options.execution.runner not in RUNNERS:
        raise EdgepruneError(f"--runner must be {' or '.join(RUNNERS)}, got {options.execution.runner!r}")
    if options.execution.runner == "local":
        if options.execution.beam_options or options.execution.work_dir:
            raise EdgepruneError("--beam-options and --work-dir apply to --runner beam only")
        return
    from ..beam.options import pipeline_options

    if not options.execution.work_dir:
        raise EdgepruneError("--runner beam needs --work-dir (a local path or a Beam filesystem URI such as gs://...)")
    if options.clustering.level == "object":
        raise EdgepruneError("--level object runs on one machine only; use --runner local")
    if options.embedding.embeddings is not None:
        raise EdgepruneError("--embeddings reads one file on one machine; use --runner local")
    if options.execution.sample_per_cluster < 1:
        raise EdgepruneError(f"--sample-per-cluster must be at least 1, got {options.execution.sample_per_cluster}")
    pipeline_options(options.execution.beam_options)


def check_locations(path: Path | str, options: CurateOptions) -> None:
    """URIs (``s3://``, ``gs://``) only with ``--runner beam`` and copied images; a local output apart from every
    local input."""
    uris = [name for name, where in (("the dataset", path), ("--out", options.out)) if is_uri(where)]
    if uris and options.execution.runner != "beam":
        raise EdgepruneError(f"{' and '.join(uris)} at a URI need --runner beam (and pip install 'edgeprune[s3]')")
    if uris and options.output.image_mode != "copy":
        raise EdgepruneError(f"--image-mode {options.output.image_mode} cannot link objects at a URI; use copy")
    if is_uri(options.out):
        out = str(options.out).rstrip("/") + "/"
        for name, where in (("the dataset", path), ("--work-dir", options.execution.work_dir)):
            other = str(where).rstrip("/") + "/"
            if is_uri(where) and (out.startswith(other) or other.startswith(out)):
                raise EdgepruneError(f"--out {options.out} overlaps {name} {where}; write it elsewhere")
    else:
        check_apart(options.out, curate_inputs(path, options))


def curate_inputs(path: Path | str, options: CurateOptions) -> list[tuple[str, Path | str | None]]:
    """The paths a curate run reads (or keeps, as its caches), named as the options name them."""
    from ..embed.cache import default_cache_root

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
