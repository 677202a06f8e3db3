"""The Beam runner's stages, each a pipeline (or a driver step) whose output is a finished folder of the work dir:
manifest, embed, fit and score. :mod:`.beam` runs them in order; the image copies are :mod:`edgeprune.beam.write`.

What runs where: reading the annotations and fitting the prototypes on a sample run on the driver; decoding and
embedding every image, the mean embedding and scoring every image run on the Beam workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from ...beam.inference import (
    BackboneHandler,
    Decoder,
    embedding_example,
    parse_embedding,
    read_embeddings,
    read_file,
    read_shard,
)
from ...beam.options import run_pipeline
from ...beam.workdir import Stage, WorkDir, matching, read_array, read_bytes, write_array, write_bytes
from ...cluster.autok import AUTO_CHOICES, parse_k
from ...datasets import Dataset
from ...errors import EdgepruneError
from ..features import score_metric
from ..fit import fit_image_prototypes
from ..score import l2_normalize, prototype_scores

log = logging.getLogger(__name__)
AUTO_SAMPLE = 256 * 64  # k-means sample when --clusters is auto (k unknown before the fit)


def unit_hash(seed: int, index: int) -> float:
    """A deterministic uniform number in [0, 1) for image ``index``: who is in the k-means sample."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def sample_rate(options, n_images: int) -> float:
    """Share of the images in the k-means sample: about ``sample_per_cluster`` per centroid, all for small sets."""
    spec = str(options.clusters).strip().lower()
    k = parse_k(spec, n_images) if spec not in AUTO_CHOICES else AUTO_SAMPLE // options.sample_per_cluster
    return min(1.0, options.sample_per_cluster * k / max(n_images, 1))


def manifest_rows(dataset: Dataset) -> list[dict]:
    """One row per image in the local read order: its global index, name, and where its bytes are (with the file's
    size and modification time, so an image replaced in place changes the fingerprint)."""
    rows = []
    for index, img in enumerate(dataset.images):
        row = {"index": index, "name": img.file_name}
        if img.path is not None:
            stat = os.stat(img.path)
            row.update(path=str(img.path), bytes=stat.st_size, mtime=stat.st_mtime_ns)
        else:
            row["shard"] = int(img.extra.get("tfrecord_shard", 0))
        rows.append(row)
    return rows


def _source_files(dataset: Dataset) -> list[str]:
    """The TFRecord shard paths of a TFRecord dataset, in read order."""
    return [str(Path(dataset.source) / name) for name in dataset.extra.get("shards", [])]


def run_manifest(work: WorkDir, dataset: Dataset) -> Stage:
    """Stage 1: ``manifest.jsonl`` (global ids in read order) and per-category box counts."""
    rows = manifest_rows(dataset)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    shards = [(path, os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in _source_files(dataset)]
    stage = work.stage("manifest", hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), shards)
    if stage.reused:
        return stage
    write_bytes(stage.file("manifest.jsonl"), text.encode())
    counts = dataset.box_counts()
    stage.finish({"images": len(rows), "format": dataset.format, "box_counts": counts})
    return stage


class MeanCombineFn(beam.CombineFn):
    """``(sum, count)`` of the embeddings, accumulated in float64 (so the order of addition does not matter to the
    float32 mean)."""

    def create_accumulator(self):
        return (None, 0)

    def add_input(self, accumulator, vector):
        total, count = accumulator
        vector = np.asarray(vector, np.float64)
        return (vector if total is None else total + vector, count + 1)

    def merge_accumulators(self, accumulators):
        totals = [t for t, _ in accumulators if t is not None]
        return (np.sum(totals, axis=0) if totals else None, sum(c for _, c in accumulators))

    def extract_output(self, accumulator):
        return accumulator


def _write_mean(result, path: str) -> None:
    total, count = result
    if count:
        write_array(path, (total / count).astype(np.float64))


def _dead_letter(failure) -> str:
    element, (kind, value, *_rest) = failure
    return json.dumps({"index": int(element[0]), "name": element[1], "error": f"{kind.__name__}: {value}"})


def run_embed(work: WorkDir, manifest: Stage, dataset: Dataset, backbone, options, rate: float, beam_options) -> Stage:
    """Stage 2, distributed: read and decode every image (bad ones to ``bad_images*.jsonl``), ``RunInference``,
    embeddings as sharded TFRecords, the mean embedding, and the k-means sample."""
    stage = work.stage("embed", manifest.key, backbone.key, options.batch_size, rate, options.seed)
    if stage.reused:
        return stage
    handler = KeyedModelHandler(
        BackboneHandler(backbone.handle, backbone.image_size, backbone.preprocess, options.batch_size)
    )
    seed = options.seed
    with run_pipeline("embed", beam_options) as p:
        if dataset.format == "tfrecord":
            names: dict[int, list[str]] = {}
            starts: dict[int, int] = {}
            for index, img in enumerate(dataset.images):
                shard = int(img.extra.get("tfrecord_shard", 0))
                starts.setdefault(shard, index)
                names.setdefault(shard, []).append(img.file_name)
            shards = [(path, starts[s], names[s]) for s, path in enumerate(_source_files(dataset)) if s in starts]
            encoded = p | "Shards" >> beam.Create(shards) | beam.Reshuffle() | "Records" >> beam.FlatMap(read_shard)
            read_failures = []
        else:
            rows = (
                p
                | "Manifest" >> beam.io.ReadFromText(manifest.file("manifest.jsonl"))
                | beam.Map(json.loads)
                | beam.Map(lambda row: (row["index"], row["name"], row["path"]))
                | beam.Reshuffle()
            )
            encoded, unreadable = rows | "Read" >> beam.Map(read_file).with_exception_handling()
            read_failures = [unreadable]
        pixels, undecodable = (
            encoded | "Decode" >> beam.Map(Decoder(backbone.image_size, backbone.preprocess)).with_exception_handling()
        )
        embedded = pixels | "Embed" >> RunInference(handler)
        records = embedded | "Serialise" >> beam.Map(embedding_example)
        records | "Embeddings" >> beam.io.WriteToTFRecord(stage.file("embeddings"), file_name_suffix=".tfrecord")
        (
            embedded
            | "InSample" >> beam.Filter(lambda kv: unit_hash(seed, kv[0]) < rate)
            | "SerialiseSample" >> beam.Map(embedding_example)
            | "Sample" >> beam.io.WriteToTFRecord(stage.file("sample"), file_name_suffix=".tfrecord")
        )
        (
            embedded
            | "Vectors" >> beam.Map(lambda kv: kv[1].inference)
            | "Mean" >> beam.CombineGlobally(MeanCombineFn())
            | "WriteMean" >> beam.Map(_write_mean, stage.file("mean.npy"))
        )
        (
            (undecodable, *read_failures)
            | "Failures" >> beam.Flatten()
            | "Describe" >> beam.Map(_dead_letter)
            | "DeadLetter" >> beam.io.WriteToText(stage.file("bad_images"), file_name_suffix=".jsonl")
        )
    mean = read_array(stage.file("mean.npy")) if matching(stage.file("mean.npy")) else None
    stage.finish({"dim": int(mean.shape[0]) if mean is not None else 0})
    return stage


def bad_images(stage: Stage) -> list[dict]:
    """The dead-letter list of the embed stage: ``{"index", "name", "error"}`` per image that failed."""
    found = []
    for path in matching(stage.file("bad_images*.jsonl")):
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
    stage = work.stage(
        "fit", embed.key, options.method, options.clusters, options.seed, options.normalize, options.center,
        options.dedup, options.sample_per_cluster, all_rows is not None,
    )  # fmt: skip
    if stage.reused:
        return stage
    dim = embed.info()["dim"]
    mean = read_array(embed.file("mean.npy"))
    if all_rows is not None:  # dedup or coreset: every embedding is here, so fit exactly as the local run does
        mean = all_rows.mean(axis=0, dtype=np.float64)
        indices = np.flatnonzero(candidates)
        features = _unit_features(all_rows[candidates[good]], mean, options.center, options.normalize)
    else:
        indices, vectors = read_embeddings(matching(embed.file("sample*.tfrecord")), dim)
        wanted = good[indices] & candidates[indices]
        features = _unit_features(vectors[wanted], mean, options.center, options.normalize)
        indices = indices[wanted]
    if len(indices) == 0:
        raise EdgepruneError("beam: the k-means sample is empty (every sampled image failed to decode)")
    centers, k, notes = fit_image_prototypes(
        features, clusters=options.clusters, method=options.method, seed=options.seed,
        metric=score_metric(options.normalize),
    )  # fmt: skip
    notes.append(f"beam: prototypes fitted on a sample of {len(indices)} images")
    write_array(stage.file("centers.npy"), np.asarray(centers, np.float64))
    write_array(stage.file("mean.npy"), mean)
    stage.finish({"k": int(k), "notes": notes})
    return stage


def _score_batch(batch, centers: np.ndarray, mean: np.ndarray, options_tuple, metric: str):
    indices = np.array([index for index, _ in batch], np.int64)
    features = _unit_features(np.stack([vector for _, vector in batch]), mean, *options_tuple)
    labels, distances = prototype_scores(features, centers, metric)
    return [f"{i},{label},{distance:.9g}" for i, label, distance in zip(indices, labels, distances)]


def run_score(work: WorkDir, embed: Stage, fit: Stage, options, beam_options) -> Stage:
    """Stage 4, distributed: every embedding's nearest prototype and distance, as ``scores*.csv`` shards."""
    stage = work.stage("score", fit.key)
    if stage.reused:
        return stage
    centers, mean = read_array(fit.file("centers.npy")), read_array(fit.file("mean.npy"))
    flags, metric = (options.center, options.normalize), score_metric(options.normalize)
    with run_pipeline("score", beam_options) as p:
        (
            p
            | "Embeddings" >> beam.io.ReadFromTFRecord(embed.file("embeddings*.tfrecord"))
            | "Parse" >> beam.Map(parse_embedding)
            | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=4096)
            | "Score" >> beam.FlatMap(_score_batch, centers, mean, flags, metric)
            | "Write" >> beam.io.WriteToText(stage.file("scores"), file_name_suffix=".csv")
        )
    stage.finish()
    return stage


def read_scores(stage: Stage, n_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scored mask, cluster, distance)`` per global index from the score shards."""
    scored = np.zeros(n_images, bool)
    labels = np.full(n_images, -1, np.int64)
    distances = np.zeros(n_images, np.float32)
    for path in matching(stage.file("scores*.csv")):
        text = read_bytes(path).decode()
        if not text.strip():
            continue
        table = np.loadtxt(text.splitlines(), delimiter=",", ndmin=2)
        index = table[:, 0].astype(np.int64)
        scored[index], labels[index], distances[index] = True, table[:, 1].astype(np.int64), table[:, 2]
    return scored, labels, distances
