"""The Beam runner's stages, each a pipeline (or a driver step) whose output is a finished folder of the work dir:
manifest, embed, fit and score. :mod:`.beam` runs them in order; the image copies are :mod:`edgeprune.beam.write`.

What runs where: reading the annotations and fitting the prototypes on a sample run on the driver; decoding and
embedding every image, the mean embedding and scoring every image run on the Beam workers.

Each pipeline is one chain, ``Create`` of unit files -> a worker step that writes its files -> a global combine,
because Beam's Dask runner computes only the graph behind the last transform (a second branch would silently not
run); see :mod:`edgeprune.beam.inference` for the other transforms that runner drops.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
from pathlib import Path

import apache_beam as beam
import numpy as np

from ...beam.inference import EmbedUnit, read_embeddings, unit_files
from ...beam.options import run_pipeline
from ...beam.workdir import Stage, WorkDir, join, matching, read_array, read_bytes, write_array, write_bytes
from ...cluster.autok import AUTO_CHOICES, parse_k
from ...datasets import Dataset
from ...errors import EdgepruneError
from ...uris import is_uri, use_filesystem_options
from ...vectors import l2_normalize
from ..features import score_metric
from ..fit import fit_image_prototypes
from ..score import prototype_scores

log = logging.getLogger(__name__)
AUTO_SAMPLE = 256 * 64  # k-means sample when --clusters is auto (k unknown before the fit)
UNIT_IMAGES = 256  # images per embed work unit (a TFRecord dataset's unit is one input shard)
LAYOUT = 2  # the work dir's file layout; a change makes every stage new


def unit_hash(seed: int, index: int) -> float:
    """A deterministic uniform number in [0, 1) for image ``index``: who is in the k-means sample."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def in_sample(seed: int, rate: float, index: int) -> bool:
    """Whether image ``index`` is in the k-means sample."""
    return unit_hash(seed, index) < rate


def sample_rate(options, n_images: int) -> float:
    """Share of the images in the k-means sample: about ``sample_per_cluster`` per centroid, all for small sets."""
    spec = str(options.clustering.clusters).strip().lower()
    k = parse_k(spec, n_images) if spec not in AUTO_CHOICES else AUTO_SAMPLE // options.execution.sample_per_cluster
    return min(1.0, options.execution.sample_per_cluster * k / max(n_images, 1))


def manifest_rows(dataset: Dataset) -> list[dict]:
    """One row per image in the local read order: its global index, name, and where its bytes are (with the file's
    size and modification time, so an image replaced in place changes the fingerprint)."""
    rows = []
    for index, img in enumerate(dataset.images):
        row = {"index": index, "name": img.file_name}
        if img.uri is not None:
            size, updated = img.extra.get("uri_stat", (None, None))
            row.update(path=img.uri, bytes=size, mtime=updated)
        elif img.path is not None:  # absolute: workers need not share the driver's working directory
            stat = os.stat(img.path)
            row.update(path=os.path.abspath(img.path), bytes=stat.st_size, mtime=stat.st_mtime_ns)
        else:
            row["shard"] = int(img.extra.get("tfrecord_shard", 0))
        rows.append(row)
    return rows


def _source_files(dataset: Dataset) -> list[str]:
    """The TFRecord shard paths (or URIs) of a TFRecord dataset, in read order."""
    if is_uri(dataset.source):
        return [f"{str(dataset.source).rstrip('/')}/{name}" for name in dataset.extra.get("shards", [])]
    return [os.path.abspath(Path(dataset.source) / name) for name in dataset.extra.get("shards", [])]


def _shard_stat(path: str) -> tuple:
    """What changes when a shard is replaced: size and modification time (local) or the object's metadata."""
    if is_uri(path):
        from apache_beam.io.filesystems import FileSystems

        (meta,) = FileSystems.match([path])[0].metadata_list
        return (path, meta.size_in_bytes, meta.last_updated_in_seconds)
    return (path, os.stat(path).st_size, os.stat(path).st_mtime_ns)


def work_units(dataset: Dataset, rows: list[dict]) -> list[dict]:
    """The embed stage's units: runs of :data:`UNIT_IMAGES` image files, or one unit per TFRecord shard."""
    if dataset.format != "tfrecord":
        runs = [rows[i : i + UNIT_IMAGES] for i in range(0, len(rows), UNIT_IMAGES)]
        return [{"rows": [[r["index"], r["name"], r["path"]] for r in run]} for run in runs]
    names: dict[int, list[str]] = {}
    starts: dict[int, int] = {}
    for row in rows:
        starts.setdefault(row["shard"], row["index"])
        names.setdefault(row["shard"], []).append(row["name"])
    return [
        {"shard": path, "start": starts[s], "names": names[s]}
        for s, path in enumerate(_source_files(dataset))
        if s in starts
    ]


def run_manifest(work: WorkDir, dataset: Dataset) -> Stage:
    """Stage 1: ``manifest.jsonl`` (global ids in read order), the embed stage's ``unit-*.json`` files and the
    per-category box counts."""
    rows = manifest_rows(dataset)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    shards = [_shard_stat(path) for path in _source_files(dataset)]
    digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    stage = work.stage("manifest", LAYOUT, digest, shards, UNIT_IMAGES)
    if stage.reused:
        return stage
    write_bytes(stage.file("manifest.jsonl"), text.encode())
    units = work_units(dataset, rows)
    for number, unit in enumerate(units):
        write_bytes(stage.file(f"unit-{number:06d}.json"), json.dumps({"unit": number, **unit}).encode())
    counts = dataset.box_counts()
    stage.finish({"images": len(rows), "units": len(units), "format": dataset.format, "box_counts": counts})
    return stage


class MeanCombineFn(beam.CombineFn):
    """The mean embedding from per-unit ``(sum, count)`` pairs, accumulated in float64 (so the order of addition
    does not matter to the float32 mean)."""

    def create_accumulator(self):
        return (None, 0)

    def add_input(self, accumulator, partial):
        return self.merge_accumulators([accumulator, partial])

    def merge_accumulators(self, accumulators):
        totals = [np.asarray(t, np.float64) for t, _ in accumulators if t is not None]
        return (np.sum(totals, axis=0) if totals else None, sum(c for _, c in accumulators))

    def extract_output(self, accumulator):
        return accumulator


def _write_mean(result, path: str, beam_options) -> None:
    use_filesystem_options(beam_options)
    total, count = result
    if count:
        write_array(path, (total / count).astype(np.float64))


def run_embed(work: WorkDir, manifest: Stage, dataset: Dataset, backbone, options, rate: float, beam_options) -> Stage:
    """Stage 2, distributed: every unit's images read, decoded and embedded on a worker (bad ones to
    ``bad_images-*.jsonl``), the embeddings and the k-means sample as ``.npz`` files, and the mean embedding."""
    stage = work.stage("embed", manifest.key, backbone.key, options.embedding.batch_size, rate, options.seed)
    if stage.reused:
        return stage
    sample = functools.partial(in_sample, options.seed, rate)
    embed = EmbedUnit(stage.path, backbone, options.embedding.batch_size, sample, beam_options)
    with run_pipeline("embed", beam_options) as p:
        (
            p
            | "Units" >> beam.Create(unit_files(manifest.path, "unit"))
            | beam.Reshuffle()
            | "Embed" >> beam.ParDo(embed)
            | "Mean" >> beam.CombineGlobally(MeanCombineFn())
            | "WriteMean" >> beam.Map(_write_mean, stage.file("mean.npy"), beam_options)
        )
    if not matching(stage.file("mean.npy")):
        failed = bad_images(stage)
        example = f" (e.g. {failed[0]['name']}: {failed[0]['error'][:200]})" if failed else ""
        raise EdgepruneError(f"beam stage embed: no image could be read or decoded{example}")
    stage.finish({"dim": int(read_array(stage.file("mean.npy")).shape[0])})
    return stage


def bad_images(stage: Stage) -> list[dict]:
    """The dead-letter list of the embed stage: ``{"index", "name", "error"}`` per image that failed."""
    found = []
    for path in unit_files(stage.path, "bad_images"):
        found += [json.loads(line) for line in read_bytes(path).decode().splitlines() if line.strip()]
    return sorted(found, key=lambda row: row["index"])


def _unit_features(vectors: np.ndarray, mean: np.ndarray, center: bool, normalize: bool) -> np.ndarray:
    """:func:`edgeprune.curation.features.scoring_features` with the mean given (the whole dataset's, from the
    embed stage)."""
    features = np.asarray(vectors, np.float32)
    if center:
        features = features - mean.astype(np.float32)
    return l2_normalize(features) if normalize else features


def run_fit(work: WorkDir, embed: Stage, options, good: np.ndarray, candidates: np.ndarray, all_rows=None) -> Stage:
    """Stage 3, on the driver: the same ``fit_prototypes`` as the local run, on the sample; or, with ``all_rows``
    (the embeddings of the ``good`` images, for dedup and coreset), on every candidate as the local run does.
    ``good`` and ``candidates`` are masks over all images."""
    clustering = options.clustering
    stage = work.stage(
        "fit", embed.key, clustering.method, clustering.clusters, options.seed, clustering.normalize, clustering.center,
        options.selection.dedup, options.execution.sample_per_cluster, all_rows is not None,
    )  # fmt: skip
    if stage.reused:
        return stage
    dim = embed.info()["dim"]
    mean = read_array(embed.file("mean.npy"))
    if all_rows is not None:  # dedup or coreset: every embedding is here, so fit exactly as the local run does
        mean = all_rows.mean(axis=0, dtype=np.float64)
        indices = np.flatnonzero(candidates)
        features = _unit_features(
            all_rows[candidates[good]], mean, options.clustering.center, options.clustering.normalize
        )
    else:
        indices, vectors = read_embeddings(unit_files(embed.path, "sample"), dim)
        wanted = good[indices] & candidates[indices]
        features = _unit_features(vectors[wanted], mean, options.clustering.center, options.clustering.normalize)
        indices = indices[wanted]
    if len(indices) == 0:
        raise EdgepruneError("beam: the k-means sample is empty (every sampled image failed to decode)")
    centers, k, notes = fit_image_prototypes(
        features, clusters=options.clustering.clusters, method=options.clustering.method, seed=options.seed,
        metric=score_metric(options.clustering.normalize),
    )  # fmt: skip
    notes.append(f"beam: prototypes fitted on a sample of {len(indices)} images")
    write_array(stage.file("centers.npy"), np.asarray(centers, np.float64))
    write_array(stage.file("mean.npy"), mean)
    stage.finish({"k": int(k), "notes": notes})
    return stage


def _score_batch(indices: np.ndarray, vectors: np.ndarray, centers: np.ndarray, mean: np.ndarray, flags, metric):
    features = _unit_features(vectors, mean, *flags)
    labels, distances = prototype_scores(features, centers, metric)
    return "".join(f"{i},{label},{distance:.9g}\n" for i, label, distance in zip(indices, labels, distances))


def score_unit(path: str, out_dir: str, centers: np.ndarray, mean: np.ndarray, flags, metric: str, options) -> int:
    """Score one ``embeddings-U.npz`` file into ``scores-U.csv`` (index, cluster, distance); returns its rows."""
    use_filesystem_options(options)
    with np.load(io.BytesIO(read_bytes(path))) as saved:
        indices, vectors = saved["indices"], saved["embeddings"]
    name = path.rsplit("/", 1)[-1].replace("embeddings-", "scores-").replace(".npz", ".csv")
    text = _score_batch(indices, vectors, centers, mean, flags, metric) if len(indices) else ""
    write_bytes(join(out_dir, name), text.encode())
    return len(indices)


def run_score(work: WorkDir, embed: Stage, fit: Stage, options, beam_options) -> Stage:
    """Stage 4, distributed: every embedding's nearest prototype and distance, one ``scores-U.csv`` per unit."""
    stage = work.stage("score", fit.key)
    if stage.reused:
        return stage
    centers, mean = read_array(fit.file("centers.npy")), read_array(fit.file("mean.npy"))
    flags, metric = (
        (options.clustering.center, options.clustering.normalize),
        score_metric(options.clustering.normalize),
    )
    with run_pipeline("score", beam_options) as p:
        (
            p
            | "Units" >> beam.Create(unit_files(embed.path, "embeddings"))
            | beam.Reshuffle()
            | "Score" >> beam.Map(score_unit, stage.path, centers, mean, flags, metric, beam_options)
            | "Count" >> beam.CombineGlobally(sum)
        )
    stage.finish()
    return stage


def read_scores(stage: Stage, n_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scored mask, cluster, distance)`` per global index from the score shards."""
    scored = np.zeros(n_images, bool)
    labels = np.full(n_images, -1, np.int64)
    distances = np.zeros(n_images, np.float32)
    for path in unit_files(stage.path, "scores"):
        text = read_bytes(path).decode()
        if not text.strip():
            continue
        table = np.loadtxt(text.splitlines(), delimiter=",", ndmin=2)
        index = table[:, 0].astype(np.int64)
        scored[index], labels[index], distances[index] = True, table[:, 1].astype(np.int64), table[:, 2]
    return scored, labels, distances
