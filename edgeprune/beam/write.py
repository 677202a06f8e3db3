"""The write stage on Beam: the driver writes annotations, the workers copy image files and TFRecord shards.

:class:`BeamWriter` is passed to the dataset writers as their ``image_mode``: it collects every file copy instead of
making it. For a TFRecord dataset written back as TFRecords, each output shard is one job: a worker reads the kept
examples of the input shard of the same name (by byte offset) and writes them, byte for byte. :meth:`BeamWriter.run`
then runs all jobs as one pipeline.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from ..datasets import Dataset, ImageRecord, write_dataset
from ..datasets.files import IMAGE_MODES, copy_image
from ..datasets.tfrecord import LABEL_MAP_NAME, format_label_map, label_ids
from ..datasets.types import RecordRef
from ..errors import EdgepruneError
from ..uris import is_uri, open_uri, use_filesystem_options
from .workdir import join, read_bytes, write_bytes

JOBS_PER_UNIT = 256  # write jobs per work unit


class BeamWriter:
    """Collects copy jobs from the writers (:meth:`__call__`, :meth:`write_dataset`) and runs them on Beam
    (:meth:`run`). Symlinks, hard links and images held in memory are placed at once, on the driver."""

    def __init__(self, mode: str, beam_options=None) -> None:
        if mode not in IMAGE_MODES:
            raise EdgepruneError(f"unknown image mode {mode!r}; choose one of {', '.join(IMAGE_MODES)}")
        self.mode = mode
        self.beam_options = beam_options
        self.jobs: list[dict] = []
        self.remote: tuple[Path, str] | None = None  # (local output folder, the URI its files go to)

    def send_to(self, local: Path, uri: str) -> None:
        """Image copies for files under ``local`` go to the same relative key under ``uri`` (an ``s3://`` output
        built in a local folder)."""
        self.remote = (Path(local), uri)

    def _target(self, target: Path) -> str:
        if self.remote is None:  # absolute: workers need not share the driver's working directory
            return os.path.abspath(target)
        local, uri = self.remote
        return f"{uri}/{Path(target).relative_to(local).as_posix()}"

    def __call__(self, img: ImageRecord, target: Path) -> None:
        source = img.uri if img.uri is not None else img.path
        if source is None or self.mode != "copy":
            # bytes in memory or a TFRecord example, or a link to a local file: placed on the driver (into the local
            # folder of an s3:// output, which is uploaded with it; links to URIs are refused before any work)
            copy_image(img, target, mode=self.mode)
            return
        source = source if isinstance(source, str) else os.path.abspath(source)
        self.jobs.append({"copy": source, "to": self._target(target)})

    def write_dataset(self, dataset: Dataset, out_dir: Path, *, format: str | None = None) -> str:
        """Like :func:`edgeprune.datasets.write_dataset`; TFRecords whose examples are all unchanged become one
        shard job per output shard."""
        fmt = format or dataset.format
        unchanged = all(img.extra.get("tfrecord_record") is not None for img in dataset.images)
        if fmt != "tfrecord" or dataset.format != "tfrecord" or not unchanged:
            return write_dataset(dataset, out_dir, format=format, image_mode=self)
        out_dir.mkdir(parents=True, exist_ok=True)
        shards: dict[int, list[RecordRef]] = {i: [] for i in range(len(dataset.extra["shards"]))}
        for img in dataset.images:
            shards[int(img.extra["tfrecord_shard"])].append(img.extra["tfrecord_record"])
        for shard, refs in shards.items():
            target = out_dir / dataset.extra["shards"][shard]
            records = [(os.path.abspath(r.file) if not is_uri(r.file) else r.file, r.offset, r.length) for r in refs]
            self.jobs.append({"shard": records, "to": self._target(target)})
        ids = label_ids(dataset.categories)
        categories = [dataclasses.replace(c, id=ids[c.id]) for c in dataset.categories]
        (out_dir / LABEL_MAP_NAME).write_text(format_label_map(categories))
        return fmt

    def run(self, work_dir: str, beam_options) -> tuple[int, int]:
        """Run the jobs on the Beam workers, in files of :data:`JOBS_PER_UNIT`; returns ``(image files copied,
        TFRecord shards written)``."""
        if not self.jobs:
            return 0, 0
        from .options import run_pipeline

        root = str(work_dir) if is_uri(work_dir) else os.path.abspath(work_dir)
        folder = join(root, f"write-{uuid.uuid4().hex}")
        units = []
        for number, start in enumerate(range(0, len(self.jobs), JOBS_PER_UNIT)):
            units.append(join(folder, f"jobs-{number:06d}.json"))
            write_bytes(units[-1], json.dumps(self.jobs[start : start + JOBS_PER_UNIT]).encode())
        try:
            with run_pipeline("write", beam_options) as p:
                (
                    p
                    | "Jobs" >> beam.Create(units)
                    | beam.Reshuffle()
                    | "Write" >> beam.Map(run_jobs, self.beam_options)
                    | "Count" >> beam.CombineGlobally(sum)
                )
        finally:
            FileSystems.delete([folder])
        shards = sum(1 for job in self.jobs if "shard" in job)
        return len(self.jobs) - shards, shards


def run_jobs(path: str, beam_options=None) -> int:
    """Run the write jobs listed in one file; returns how many."""
    use_filesystem_options(beam_options)
    jobs = json.loads(read_bytes(path))
    for job in jobs:
        run_job(job)
    return len(jobs)


def run_job(job: dict) -> None:
    """One write job: copy an image file, or write a TFRecord shard from its examples' byte ranges (to a local
    path or a URI)."""
    if "shard" in job:
        _write_shard([RecordRef(*ref) for ref in job["shard"]], job["to"])
        return
    with open_uri(job["copy"]) as src, open_uri(job["to"], "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)


def _write_shard(refs: list[RecordRef], target: str) -> None:
    """A TFRecord file of these examples, byte for byte (``tf.io.TFRecordWriter`` frames them; a URI target is
    written locally first, then copied)."""
    import tensorflow as tf

    local = target
    if is_uri(target):
        handle, local = tempfile.mkstemp(suffix=".tfrecord")
        os.close(handle)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        with tf.io.TFRecordWriter(local) as writer:
            for ref in refs:
                writer.write(ref.read())
        if local != target:
            with open(local, "rb") as src, open_uri(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
    finally:
        if local != target:
            os.unlink(local)
