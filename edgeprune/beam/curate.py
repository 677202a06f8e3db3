"""The Beam curation stages: manifest, embed, fit and score, the input of ``pipeline.choose`` (the write stage is in
``write.py``).

What runs where: reading the annotations, fitting the prototypes on a sample, selection and the report run on the
driver; decoding and embedding every image, the mean embedding, scoring every image and copying the kept images run
on the Beam workers. Selection reuses ``pipeline.choose`` on the score table, so every image-level policy works.
Dedup, ``coreset`` and ``--save-embeddings`` also need every embedding on the driver, which then reads them from the
embed stage's shards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Iterator

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from ..cluster import fit_prototypes
from ..cluster.autok import AUTO_CHOICES, choose_k, parse_k
from ..datasets import Dataset
from ..dedup import duplicate_groups, duplicate_of
from ..errors import EdgepruneError
from ..quiet import beam_logs_to_debug
from ..score import l2_normalize, prototype_scores
from .inference import (
    BackboneHandler,
    Decoder,
    embedding_example,
    parse_embedding,
    read_embeddings,
    read_file,
    read_shard,
)
from .options import pipeline_options
from .workdir import Stage, WorkDir, matching, read_array, read_bytes, write_array, write_bytes

log = logging.getLogger(__name__)
AUTO_SAMPLE = 256 * 64  # k-means sample when --clusters is auto (k unknown before the fit)
PRETRAIN_SAMPLE = 20000  # selfsup: images the driver pretrains on (all of them below this)


@contextlib.contextmanager
def pipeline(name: str, beam_options) -> Iterator:
    """A Beam pipeline that runs on leaving the block; a failure becomes an :class:`EdgepruneError` naming the
    stage (the finished stages stay in the work dir, and a rerun resumes after them)."""
    try:
        with beam_logs_to_debug(), beam.Pipeline(options=beam_options) as p:
            yield p
    except EdgepruneError:
        raise
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise EdgepruneError(
            f"beam stage {name} failed ({type(exc).__name__}: {lines[-1] if lines else 'no message'}); the finished "
            "stages stay in --work-dir and a rerun resumes after them"
        ) from exc


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
    with pipeline("embed", beam_options) as p:
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
    """``pipeline.scoring_features`` with the mean given (the whole dataset's, from the embed stage)."""
    features = np.asarray(vectors, np.float32)
    if center:
        features = features - mean.astype(np.float32)
    return l2_normalize(features) if normalize else features


def run_fit(work: WorkDir, embed: Stage, options, good: np.ndarray, candidates: np.ndarray, all_rows=None) -> Stage:
    """Stage 3, on the driver: the same ``fit_prototypes`` as the local run, on the sample; or, with ``all_rows``
    (the embeddings of the ``good`` images, for dedup and coreset), on every candidate as the local run does.
    ``good`` and ``candidates`` are masks over all images."""
    from ..pipeline import score_metric

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
    k, reason = choose_k(options.clusters, features, random_state=options.seed)
    clusterer = fit_prototypes(options.method, k, features, random_state=options.seed, metric=score_metric(options))
    notes = [f"clusters: {reason}", f"beam: prototypes fitted on a sample of {len(indices)} images"]
    write_array(stage.file("centers.npy"), np.asarray(clusterer.cluster_centers_, np.float64))
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
    from ..pipeline import score_metric

    stage = work.stage("score", fit.key)
    if stage.reused:
        return stage
    centers, mean = read_array(fit.file("centers.npy")), read_array(fit.file("mean.npy"))
    flags, metric = (options.center, options.normalize), score_metric(options)
    with pipeline("score", beam_options) as p:
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


def _backbone(dataset: Dataset, options, timings):
    """The backbone, loaded on the driver to check it before any Beam work; ``selfsup`` pretrains on a sample of at
    most :data:`PRETRAIN_SAMPLE` images (all of a smaller dataset, so it is the local run's backbone)."""
    from ..embed import default_cache_root
    from ..pipeline import resolve_backbone

    source = dataset
    if options.backbone == "selfsup" and len(dataset) > PRETRAIN_SAMPLE:
        rate = PRETRAIN_SAMPLE / len(dataset)
        source = dataset.subset(np.array([unit_hash(options.seed, i) < rate for i in range(len(dataset))]))
        log.info("beam: pretraining the selfsup backbone on %d of %d images", len(source), len(dataset))
    return resolve_backbone(options, source, options.cache_dir or default_cache_root(), timings)


def score_with_beam(dataset: Dataset, options, timings: dict[str, float]):
    """Run stages 1-4 (each skipped when its work-dir folder is finished); returns ``(dataset without the images
    that failed to decode, Scored)`` for ``pipeline.choose`` and the writers."""
    from ..pipeline import Scored, scoring_features

    beam_options = pipeline_options(options.beam_options)
    backbone = _backbone(dataset, options, timings)  # a bad backbone fails before the work dir is touched
    work = WorkDir(str(options.work_dir))
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
    all_rows = None
    if options.dedup is not None or options.policy == "coreset" or options.save_embeddings:
        indices, rows = read_embeddings(matching(embed.file("embeddings*.tfrecord")), embed.info()["dim"])
        all_rows = np.zeros((n, rows.shape[1]), np.float32)
        all_rows[indices] = rows
        all_rows = all_rows[good]
    kept_dataset = dataset.subset(good) if not good.all() else dataset
    positions = np.flatnonzero(good)
    groups = []
    if options.dedup is not None:
        groups = duplicate_groups(scoring_features(all_rows, options), options.dedup)
    representative = duplicate_of(groups, len(kept_dataset))
    candidates = np.zeros(n, bool)
    candidates[positions] = representative < 0
    exact_fit = options.dedup is not None or options.policy == "coreset"  # every embedding is on the driver
    fit = _run(
        "cluster", lambda: run_fit(work, embed, options, good, candidates, all_rows if exact_fit else None), timings,
        reused,
    )  # fmt: skip
    score = _run("score", lambda: run_score(work, embed, fit, options, beam_options), timings, reused)
    scored, labels, distances = read_scores(score, n)
    missing = good & ~scored
    if missing.any():
        raise EdgepruneError(f"beam: {int(missing.sum())} images have no score in {score.path}; rerun to redo it")
    notes = list(fit.info()["notes"])
    notes.append(f"runner beam: work dir {options.work_dir}; stages reused: {', '.join(reused) or 'none'}")
    if failures:
        shown = "; ".join(f"{row['name']} ({row['error'][:80]})" for row in failures[:3])
        notes.append(
            f"{len(failures)} images could not be read or decoded and are left out (listed in "
            f"{embed.file('bad_images*.jsonl')}): {shown}"
        )
    if options.dedup is not None:
        notes.append(
            f"dedup: {len(groups)} groups of near-duplicates (cosine >= {options.dedup}), "
            f"{int((representative >= 0).sum())} images dropped before pruning"
        )
    embeddings = all_rows if all_rows is not None else np.zeros((len(kept_dataset), 0), np.float32)
    counts = {"cached": len(kept_dataset), "computed": 0} if "embed" in reused else {"cached": 0, "computed": n}
    return kept_dataset, Scored(
        embeddings, labels[good], distances[good], representative < 0, representative, groups,
        int(fit.info()["k"]), backbone, counts, notes,
    )  # fmt: skip


def _run(name: str, run, timings: dict[str, float], reused: list[str]) -> Stage:
    """Run one stage, timing it and noting when its finished folder was reused."""
    started = time.perf_counter()
    stage = run()
    elapsed = time.perf_counter() - started
    if stage.reused:
        reused.append(name)
    timings[name] = timings.get(name, 0.0) + elapsed
    return stage
