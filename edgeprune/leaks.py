"""``edgeprune leaks``: is the split honest? Images of a later split with a near-copy in an earlier one.

Splits are compared in order (``train, val, test``: ``val`` against ``train``, ``test`` against ``train`` and
``val``). An image is flagged when its nearest neighbour among the earlier splits has cosine similarity >=
``threshold`` in the backbone's embedding space (centred over all compared images, then L2-normalised, as for
curation), and always when the same file bytes appear earlier (content hash). The nearest-neighbour search
(``threshold_search.py``) is exact brute force for ordinary sizes (faiss when installed); at 100k x 100k it bounds
every pair from a projection and scores in full only the pairs that can reach the threshold, so the flagged images
and their similarities stay exact.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_output_dir, check_output_dir
from .curation.dedup import content_hashes
from .curation.types import EmbeddingSettings
from .errors import EdgepruneError
from .input_guard import check_apart, dataset_inputs
from .threshold_search import nearest_earlier
from .vectors import center, l2_normalize

log = logging.getLogger(__name__)
CSV_FIELDS = ("image", "split", "nearest", "nearest_split", "similarity", "exact")


@dataclass(kw_only=True)
class LeakOptions:
    """Every ``leaks`` option; :func:`edgeprune.curation.types.compose_options` builds it from the CLI's arguments
    (keys equal the argument names)."""

    out: Path
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    splits: list[str] | None = None  # within one dataset, earliest first
    split: str | None = None  # with ``against``: the split of DATASET that is checked
    against: Path | None = None  # another dataset holding the earlier split
    against_split: str | None = None
    threshold: float = 0.95
    format: str | None = None
    images_dir: Path | None = None
    label_map: Path | None = None
    fps: float | None = None  # folders of videos: frames sampled per second (datasets/video.py)
    every: int | None = None  # folders of videos: every N-th frame instead
    write_clean: Path | None = None
    image_mode: str = "copy"
    overwrite: bool = False
    max_pairs: int = 200  # pairs shown side by side in the report
    seed: int = 0
    progress: bool = True


@dataclass
class Leak:
    """One flagged image and its nearest earlier image."""

    image: str
    split: str
    nearest: str
    nearest_split: str
    similarity: float
    exact: bool


@dataclass
class LeakResult:
    """What ``leaks`` found: per checked split, how many of its images have a near-copy earlier."""

    out: Path
    threshold: float
    checked: int
    flagged: int
    per_split: dict[str, dict]  # split -> images, flagged, exact, against, nearest_similarity (max/p95/median)
    leaks: list[Leak] = field(default_factory=list)
    backbone: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    clean: Path | None = None

    def lines(self) -> list[str]:
        """The one-screen summary: "N of M `val` images have a near-copy in `train`"."""
        out = []
        for split, counts in self.per_split.items():
            earlier = counts.get("against", "")
            exact = f" ({counts['exact']} exact copies)" if counts["exact"] else ""
            videos = (
                f"; frames of {counts['videos_flagged']} of its {counts['videos']} videos" if "videos" in counts else ""
            )
            out.append(
                f"{counts['flagged']} of {counts['images']} `{split}` images have a near-copy in `{earlier}`{exact}"
                + videos
            )
        return out


def check_options(options: LeakOptions) -> None:
    """Reject inconsistent split settings before any work."""
    if not 0.0 < options.threshold <= 1.0:
        raise EdgepruneError(f"threshold={options.threshold} must be a cosine similarity in (0, 1]")
    if options.against is None:
        if options.split is not None or options.against_split is not None:
            given = "split" if options.split is not None else "against_split"
            raise EdgepruneError(
                f"{given}={getattr(options, given)} goes with against=OTHER_DATASET; or use splits=A,B to compare "
                "splits of one dataset"
            )
        if not options.splits or len(options.splits) < 2:
            raise EdgepruneError("give at least two splits to compare, e.g. splits=train,val,test")
        if len(set(options.splits)) != len(options.splits):
            raise EdgepruneError(f"splits={','.join(options.splits)} repeats a split")
    elif options.splits:
        raise EdgepruneError(
            f"splits={','.join(options.splits)} and against={options.against}: compare splits of one dataset or two "
            "datasets, not both"
        )


def read_splits(path: Path | str, options: LeakOptions) -> list[tuple[str, object]]:
    """``[(name, dataset)]``, earliest first."""
    from .datasets import read_dataset

    read = {"format": options.format, "images_dir": options.images_dir, "label_map": options.label_map}
    frames = {"fps": options.fps, "every": options.every, "cache_dir": options.embedding.cache_dir}
    read.update(frames)
    if options.against is not None:
        earlier = read_dataset(options.against, split=options.against_split, **frames)
        later = read_dataset(path, split=options.split, **read)
        names = (options.against_split or Path(str(options.against)).name, options.split or Path(str(path)).name)
        if names[0] == names[1]:
            names = (f"{names[0]} ({Path(str(options.against)).name})", f"{names[1]} ({Path(str(path)).name})")
        return [(names[0], earlier), (names[1], later)]
    return [(name, read_dataset(path, split=name, **read)) for name in options.splits]


def _embed_all(splits: list[tuple[str, object]], options: LeakOptions, timings: dict[str, float]):
    """One embedding matrix per split (from the backbone, cached, or ``--embeddings``) and the backbone's name."""
    from .curation.embed import backbone_name, embed_for_curation

    embedding = options.embedding
    if embedding.embeddings is not None:
        from .embed.external import align

        bounds = np.cumsum([0] + [len(dataset) for _, dataset in splits])
        started = time.perf_counter()
        vectors = align(embedding.embeddings, [(dataset, dataset.images) for _, dataset in splits])
        timings["embed"] = time.perf_counter() - started
        return [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:])], backbone_name(None, embedding.embeddings)
    matrices, backbone = [], None
    for _, dataset in splits:
        embedding = embedding.reusing(backbone)  # the first split loads (or pretrains) it; later splits reuse it
        embedded = embed_for_curation(dataset, embedding, timings, seed=options.seed, progress=options.progress)
        backbone = embedded.backbone
        matrices.append(embedded.images)
    return matrices, backbone.handle


def find_leaks(path: Path | str, options: LeakOptions) -> LeakResult:
    """Compare the splits; write ``leaks.csv``, ``report.html``, ``summary.json`` (and ``--write-clean``)."""
    check_options(options)
    from .storage import default_cache_root

    outputs = [("--out", options.out)] + [("--write-clean", options.write_clean)] * (options.write_clean is not None)
    named = [
        ("the dataset", path),
        ("--against", options.against),
        ("--images", options.images_dir),
        ("--label-map", options.label_map),
        ("--embeddings", options.embedding.embeddings),
        ("--cache-dir", options.embedding.cache_dir or default_cache_root()),
    ]
    for flag, out in outputs:
        check_output_dir(out, overwrite=options.overwrite)
        check_apart(out, named, flag=flag)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    splits = read_splits(path, options)
    for flag, out in outputs:
        for name, dataset in splits:
            check_apart(out, dataset_inputs(dataset, f"split {name}"), flag=flag)
    timings["read"] = time.perf_counter() - started
    return search_splits(splits, options, timings)


def _split_summary(images: int, flagged: int, exact: int, earlier, similarity: np.ndarray) -> dict:
    """One later split's line of ``summary.json``: counts, the splits it was checked against, and the distribution
    of each image's nearest earlier similarity."""

    nearest = {"max": None, "p95": None, "median": None}
    if len(similarity):
        values = (similarity.max(), np.percentile(similarity, 95), np.median(similarity))
        nearest = {key: round(float(value), 4) for key, value in zip(nearest, values)}
    return {
        "images": images,
        "flagged": flagged,
        "exact": exact,
        "against": ", ".join(name for name, _ in earlier),
        "nearest_similarity": nearest,
    }


def _search_summary(found) -> dict:
    """How the nearest neighbours were found: ``exact`` for every image, or ``bounded`` (exact at and above the
    threshold; below it, a real neighbour's exact similarity, at most the nearest's)."""
    if not found.bounded:
        return {"method": "exact"}
    return {"method": "bounded", "pairs_scored_in_full": found.candidates}


def _video_counts(dataset, flagged: set[str]) -> dict:
    """A split read from videos: how many videos it holds, and how many have a flagged frame (a video is one
    group: one leaked frame makes the whole video suspect)."""
    if not dataset.extra.get("videos"):
        return {}
    videos = {img.extra["video"] for img in dataset.images}
    leaked = {img.extra["video"] for img in dataset.images if img.file_name in flagged}
    return {"videos": len(videos), "videos_flagged": len(leaked)}


def search_splits(splits: list[tuple[str, object]], options: LeakOptions, timings: dict | None = None) -> LeakResult:
    """The leak search on splits already read (earliest first): embed, flag each later image whose nearest earlier
    image is an exact copy or within ``options.threshold``, and write the report into ``options.out``."""
    timings = {} if timings is None else timings
    matrices, backbone = _embed_all(splits, options, timings)
    started = time.perf_counter()
    everything = np.concatenate(matrices)
    features = l2_normalize(center(everything))
    hashes = [content_hashes(dataset) for _, dataset in splits]
    offsets = np.cumsum([0] + [len(m) for m in matrices])
    names = [[img.file_name for img in dataset.images] for _, dataset in splits]
    leaks: list[Leak] = []
    per_split: dict[str, dict] = {}
    similarities: dict[str, np.ndarray] = {}
    for j in range(1, len(splits)):
        earlier_rows = np.arange(offsets[j])
        owner = np.searchsorted(offsets, earlier_rows, side="right") - 1  # split of each earlier row
        found = nearest_earlier(features[offsets[j] : offsets[j + 1]], features[earlier_rows], options.threshold)
        nearest, similarity = found.index, found.similarity
        seen = {digest: (s, i) for s in range(j) for i, digest in enumerate(hashes[s])}
        split_name = splits[j][0]
        flagged = exact_count = 0
        for i in range(len(matrices[j])):
            exact = hashes[j][i] in seen
            if exact:
                s, k = seen[hashes[j][i]]
                match, value = (s, k), 1.0
            else:
                row = int(nearest[i])
                match, value = (int(owner[row]), int(row - offsets[owner[row]])), float(similarity[i])
            if exact or value >= options.threshold - 1e-6:
                flagged += 1
                exact_count += int(exact)
                leaks.append(
                    Leak(names[j][i], split_name, names[match[0]][match[1]], splits[match[0]][0], value, exact)
                )
        similarities[split_name] = np.minimum(similarity, 1.0)
        per_split[split_name] = _split_summary(len(matrices[j]), flagged, exact_count, splits[:j], similarity)
        per_split[split_name]["search"] = _search_summary(found)
        per_split[split_name].update(
            _video_counts(splits[j][1], {leak.image for leak in leaks if leak.split == split_name})
        )
    leaks.sort(key=lambda leak: (-leak.similarity, leak.split, leak.image))
    timings["search"] = time.perf_counter() - started
    result = LeakResult(
        options.out,
        options.threshold,
        sum(len(m) for m in matrices[1:]),
        len(leaks),
        per_split,
        leaks,
        backbone,
        timings,
        options.write_clean,
    )
    _write(result, splits, similarities, options)
    return result


def _write(result: LeakResult, splits, similarities: dict[str, np.ndarray], options: LeakOptions) -> None:
    from .report.leaks import write_leak_report

    started = time.perf_counter()
    if options.write_clean is not None:
        from .datasets import write_dataset

        with atomic_output_dir(options.write_clean, overwrite=options.overwrite) as tmp:
            for name, dataset in splits[1:]:
                leaked = {leak.image for leak in result.leaks if leak.split == name}
                keep = np.array([img.file_name not in leaked for img in dataset.images], bool)
                target = tmp / name if len(splits) > 2 else tmp
                write_dataset(dataset.subset(keep), target, image_mode=options.image_mode)
    with atomic_output_dir(options.out, overwrite=options.overwrite) as tmp:
        with (tmp / "leaks.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for leak in result.leaks:
                writer.writerow({**asdict(leak), "similarity": f"{leak.similarity:.6f}", "exact": int(leak.exact)})
        write_leak_report(tmp / "report.html", result, splits, similarities, max_pairs=options.max_pairs)
        result.seconds["write"] = time.perf_counter() - started
        summary = {k: v for k, v in asdict(result).items() if k != "leaks"}
        summary["summary"] = result.lines()
        (tmp / "summary.json").write_text(json.dumps(summary, default=str, indent=2))
