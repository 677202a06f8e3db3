"""Datasets, outputs and work dirs at a Beam filesystem URI (``s3://``, ``gs://``) for ``curate --runner beam``.

- Reading: the driver copies the dataset's annotation files (and TFRecord shards, whose examples hold the boxes)
  into a local folder, with only the first :data:`HEADER_BYTES` of each image (enough for its size and
  orientation), reads that folder with the format's own reader, then points every image at its URI. The workers
  read the image bytes from the URI.
- Writing: the output is built in a local folder while the workers copy the kept images straight into a staging
  prefix ``<out>.partial-<id>``; the local files are uploaded next to them, and only a complete staging prefix is
  moved to ``<out>`` (``summary.json`` last). A failed run deletes its staging prefix; nothing lands in ``<out>``.
- Every call goes through Beam's ``FileSystems`` with the run's ``--beam-options`` (``--s3_endpoint_url``,
  credentials), and a refused call is a one-line :class:`EdgepruneError` naming what was being done and the URI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

from ..datasets import Dataset
from ..datasets.files import IMAGE_SUFFIXES
from ..errors import EdgepruneError
from ..quiet import beam_logs_to_debug
from ..uris import open_uri

log = logging.getLogger(__name__)
HEADER_BYTES = 1 << 16  # an image's header (size, EXIF orientation) lies in its first 64 KiB


def refused(what: str, uri: str, exc: BaseException) -> EdgepruneError:
    """A one-line error for a filesystem call that failed: what was being done, the URI, the innermost reason."""
    details = getattr(exc, "exception_details", None)
    reason = next(iter(details.values()), exc) if isinstance(details, dict) else exc
    text = " ".join(str(reason).split()) or type(reason).__name__
    return EdgepruneError(f"{what}: {uri}: {text[:300]}")


def _strip(uri: str) -> str:
    return uri.rstrip("/")


def list_objects(uri: str, what: str) -> dict[str, object]:
    """``{relative path: FileMetadata}`` of every object under the prefix ``uri``."""
    from apache_beam.io.filesystems import FileSystems

    root = _strip(uri)
    try:
        with beam_logs_to_debug():
            found = FileSystems.match([f"{root}/**"])[0].metadata_list
    except Exception as exc:  # noqa: BLE001 - BeamIOError wraps the client's reason
        raise refused(what, uri, exc) from None
    return {m.path[len(root) + 1 :]: m for m in found if m.path.startswith(root + "/")}


def _download(uri: str, target: Path, limit: int | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with beam_logs_to_debug(), open_uri(uri) as src, target.open("wb") as dst:
        if limit is not None:
            dst.write(src.read(limit))
            return
        while chunk := src.read(1 << 22):
            dst.write(chunk)


@contextlib.contextmanager
def staged_dataset(uri: str, read) -> Iterator[Dataset]:
    """The dataset at ``uri`` (a prefix, or one annotation file in it), read by ``read(local path)`` from a local
    copy of its annotations and image headers, with every image pointing at its URI; the copy is deleted after the
    block."""
    objects = list_objects(uri, "read the dataset")
    root, name = _strip(uri), ""
    if not objects:  # a single annotation file: stage the prefix it lies in
        root, name = _strip(uri).rsplit("/", 1)
        objects = list_objects(root, "read the dataset")
        if name not in objects:
            raise EdgepruneError(f"read the dataset: {uri}: no such object or prefix")
    local = Path(tempfile.mkdtemp(prefix="edgeprune-dataset-"))
    try:
        for relative in objects:
            is_image = Path(relative).suffix.lower() in IMAGE_SUFFIXES
            try:
                _download(f"{root}/{relative}", local / relative, HEADER_BYTES if is_image else None)
            except Exception as exc:  # noqa: BLE001
                raise refused("read the dataset", f"{root}/{relative}", exc) from None
        log.info("staged %d objects of %s (annotations whole, image headers only)", len(objects), uri)
        dataset = read(local / name if name else local)
        yield _pointing_at(dataset, local, root, objects)
    finally:
        shutil.rmtree(local, ignore_errors=True)


def _pointing_at(dataset: Dataset, local: Path, root: str, objects: dict) -> Dataset:
    """Every image (and TFRecord example) of a dataset read from ``local`` pointed at its object under ``root``."""

    def uri_of(path: Path | str) -> str:
        return f"{root}/{Path(path).relative_to(local).as_posix()}"

    for img in dataset.images:
        if img.path is not None:
            relative = Path(img.path).relative_to(local).as_posix()
            meta = objects[relative]
            img.uri, img.path = uri_of(img.path), None
            img.extra["uri_stat"] = [meta.size_in_bytes, meta.last_updated_in_seconds]
        if img.record is not None:
            img.record = dataclasses.replace(img.record, file=uri_of(img.record.file))
    source = Path(dataset.source)
    dataset.source = uri_of(source) if source != local else root
    if dataset.extra.get("image_root") is not None:
        dataset.extra["image_root"] = uri_of(dataset.extra["image_root"])
    return dataset


def check_output(out: str, *, overwrite: bool) -> None:
    """Before any work: ``out`` must not hold objects (unless ``overwrite``), and must be writable."""
    if list_objects(out, "check --out") and not overwrite:
        raise EdgepruneError(f"{out}: output already exists; pass --overwrite to replace it")
    check_writable(f"{_strip(out)}.probe-{uuid.uuid4().hex}", "write --out", out)


def check_writable(probe: str, what: str, uri: str) -> None:
    """Write and delete the object ``probe``: a missing bucket or refused credentials fail here, as one line
    naming ``what`` and ``uri``, before any work."""
    from apache_beam.io.filesystems import FileSystems

    try:
        with beam_logs_to_debug():
            with open_uri(probe, "wb") as handle:
                handle.write(b"edgeprune write check\n")
            FileSystems.delete([probe])
    except Exception as exc:  # noqa: BLE001
        raise refused(what, uri, exc) from None


@contextlib.contextmanager
def remote_output_dir(out: str, *, overwrite: bool) -> Iterator[tuple[Path, str]]:
    """Yield ``(local folder, staging prefix)``: what is written into either becomes ``out`` when the block
    succeeds; after a failure the staging prefix is deleted and ``out`` is untouched."""
    check_output(out, overwrite=overwrite)
    staging = f"{_strip(out)}.partial-{uuid.uuid4().hex[:12]}"
    local = Path(tempfile.mkdtemp(prefix="edgeprune-out-"))
    try:
        yield local, staging
        upload_tree(local, staging)
        publish(staging, out, overwrite=overwrite)
    except BaseException:
        _delete_quietly(staging)
        raise
    finally:
        shutil.rmtree(local, ignore_errors=True)


def upload_tree(local: Path, uri: str) -> int:
    """Copy every file under ``local`` to the same relative key under ``uri``; returns the count."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    for path in files:
        target = f"{uri}/{path.relative_to(local).as_posix()}"
        try:
            with beam_logs_to_debug(), open_uri(target, "wb") as dst, path.open("rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)
        except Exception as exc:  # noqa: BLE001
            raise refused("write --out", target, exc) from None
    return len(files)


def publish(staging: str, out: str, *, overwrite: bool) -> None:
    """Move every object of ``staging`` under ``out`` (``summary.json`` last, so its presence marks a complete
    output); with ``overwrite``, what ``out`` held before is deleted first."""
    from apache_beam.io.filesystems import FileSystems

    objects = sorted(list_objects(staging, "publish --out"))
    old = list_objects(out, "publish --out") if overwrite else {}
    try:
        with beam_logs_to_debug():
            if old:
                FileSystems.delete([f"{_strip(out)}/{rel}" for rel in old])
            for batch in ([r for r in objects if r != "summary.json"], [r for r in objects if r == "summary.json"]):
                if batch:
                    FileSystems.rename([f"{staging}/{r}" for r in batch], [f"{_strip(out)}/{r}" for r in batch])
    except Exception as exc:  # noqa: BLE001
        raise refused("publish --out", out, exc) from None
    _delete_quietly(staging)


def _delete_quietly(uri: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    with contextlib.suppress(Exception):
        left = list_objects(uri, "clean up")
        if left:
            FileSystems.delete([f"{uri}/{rel}" for rel in left])
