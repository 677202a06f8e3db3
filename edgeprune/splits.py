"""``edgeprune split``: train/val/test splits that no near-copy crosses, stratified by category.

1. Images are grouped (``curation/groups.py``): a ``--groups FILE`` group (a CSV of ``image,group``, e.g. a video
   or clip id) is never cut, byte-identical files stay together, and images without a given group form
   leader-clustering groups at ``--threshold`` cosine similarity (the features and threshold ``edgeprune leaks``
   uses). Two groups merge only where at least half the images of one have a near-copy in the other, and never
   past the smallest split's share: a single link between two clips of one scene does not chain a collection of
   videos into one group.
2. Groups go to splits by iterative stratification (Sechidis, Tsoumakas & Vlahavas, "On the stratification of
   multi-label data", ECML PKDD 2011), with a group in place of an example: the rarest category first, each group to
   the split that most wants that category, ties to the split that most wants images, then by the seed. Where
   near-copies still link groups (clips of one scene), a link-aware assignment is tried too (:func:`grow_splits`:
   each later split grown as one region of the link graph), and the one that leaves fewer images to drop is kept.
3. The near-copies still left across splits (a stray pair between two clips) are resolved by dropping the fewest
   images that cut them all, listed in ``dropped.csv`` with their partner across the boundary.
4. Each split is written in the input's format (or ``--out-format``) under ``--out/<name>/``, atomically, and read
   back by edgeprune's readers for the leak search of ``edgeprune leaks``, whose report lands in
   ``--out/leak_check/``: it must find no leak at the threshold used.

The result depends on ``--seed`` and the images, never on the order in which files are listed: images are sorted
by file name first.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_output_dir, check_output_dir
from .curation.groups import read_groups
from .curation.types import DatasetReading, EmbeddingSettings
from .errors import EdgepruneError
from .input_guard import check_apart, dataset_inputs

log = logging.getLogger(__name__)
DEFAULT_NAMES = {2: ["train", "val"], 3: ["train", "val", "test"]}


@dataclass(kw_only=True)
class SplitOptions:
    """split settings, in parts (embedding, reading) and the rest (flat keys equal the CLI options)."""

    out: Path
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    reading: DatasetReading = field(default_factory=DatasetReading)
    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    names: list[str] | None = None  # default: train,val(,test)
    groups: Path | None = None  # CSV: image,group
    threshold: float = 0.95
    out_format: str | None = None
    image_mode: str = "copy"
    overwrite: bool = False
    seed: int = 0
    progress: bool = True


@dataclass
class SplitResult:
    """What a split run did, for the summary screen and ``summary.json``."""

    out: Path
    images: dict[str, int]
    boxes: dict[str, int]
    groups: int
    largest_group: int
    linked_images: int  # images in a group of two or more
    share_gap: dict[str, float]  # largest |category share in split - share in whole|, percentage points
    leaks: int
    output_format: str
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    given_groups: int = 0  # distinct --groups values
    dropped: int = 0  # images left out: a near-copy of an image in another split

    def lines(self) -> list[str]:
        """The summary screen."""
        total = sum(self.images.values())
        given = f", from {self.given_groups} given groups" if self.given_groups else ""
        out = [f"edgeprune split: {total} images in {self.groups} groups (largest {self.largest_group}{given})"]
        for name, count in self.images.items():
            out.append(
                f"  {name:<8} {count:>6} images ({count / max(total, 1):.1%})  {self.boxes[name]:>7} boxes  "
                f"category shares within {self.share_gap[name]:.2f} points of the whole"
            )
        if self.dropped:
            out.append(
                f"  dropped  {self.dropped:>6} images: near-copies of an image in another split, left out so that no"
                " group is cut (dropped.csv)"
            )
        out.append(f"  leak check: {self.leaks} leaks at the threshold used")
        return out + [f"  note: {note}" for note in self.notes]


def check_options(options: SplitOptions) -> list[str]:
    """Reject bad ratios, names or threshold before any work; returns the split names."""
    ratios = options.ratios
    if len(ratios) < 2 or any(r <= 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        shown = ",".join(f"{r:g}" for r in ratios)
        raise EdgepruneError(f"ratios={shown} must be two or more positive shares that sum to 1")
    names = options.names or DEFAULT_NAMES.get(len(ratios)) or [f"split{i}" for i in range(len(ratios))]
    if len(names) != len(ratios) or len(set(names)) != len(names):
        raise EdgepruneError(f"names={','.join(names)} must give {len(ratios)} distinct names")
    if not 0.0 < options.threshold <= 1.0:
        raise EdgepruneError(f"threshold={options.threshold} must be a cosine similarity in (0, 1]")
    return names


def assign_groups(group_of: np.ndarray, box_counts: np.ndarray, ratios: list[float], seed: int) -> np.ndarray:
    """Iterative stratification over groups: the split index of every image. ``box_counts[i, c]``: boxes of
    category ``c`` in image ``i``."""
    n_groups = int(group_of.max()) + 1 if len(group_of) else 0
    ratios_arr = np.asarray(ratios, np.float64)
    sizes = np.bincount(group_of, minlength=n_groups).astype(np.float64)
    counts = np.zeros((n_groups, box_counts.shape[1]), np.float64)
    np.add.at(counts, group_of, box_counts)
    want_images = ratios_arr * len(group_of)
    want_boxes = ratios_arr[:, None] * counts.sum(axis=0)[None, :]
    tie = np.random.default_rng(seed).random((n_groups, len(ratios)))
    split_of_group = np.full(n_groups, -1, np.int64)
    left = np.ones(n_groups, bool)
    while left.any():
        remaining = counts[left].sum(axis=0)
        if remaining.any():
            category = int(np.flatnonzero(remaining > 0)[remaining[remaining > 0].argmin()])  # rarest left
            todo = np.flatnonzero(left & (counts[:, category] > 0))
        else:
            category, todo = None, np.flatnonzero(left)
        for group in todo[np.argsort(-sizes[todo] - tie[todo, 0] * 1e-3, kind="stable")]:  # large groups first
            category_want = want_boxes[:, category] if category is not None else np.zeros(len(ratios))
            order = np.lexsort((tie[group], want_images, category_want))  # last key sorts first
            chosen = int(order[-1])
            split_of_group[group] = chosen
            want_images[chosen] -= sizes[group]
            want_boxes[chosen] -= counts[group]
            left[group] = False
    return split_of_group[group_of]


def grow_splits(
    group_of: np.ndarray, box_counts: np.ndarray, ratios: list[float], seed: int, links, *, seeds: int = 16
) -> np.ndarray:
    """Link-aware assignment for groups that share near-copies: each later split (smallest first) is grown as one
    region of the link graph from the seed group that leaves the fewest links across its boundary (of ``seeds``
    tried: the most isolated groups and random ones), adding the free group most attached to the region (links
    per image), ties to the group whose boxes the split still wants most; the first split gets the rest. Near-copy
    links then mostly stay inside a split, and the few across its boundary are dropped afterwards."""
    n_groups = int(group_of.max()) + 1
    sizes = np.bincount(group_of, minlength=n_groups).astype(np.float64)
    counts = np.zeros((n_groups, box_counts.shape[1]), np.float64)
    np.add.at(counts, group_of, box_counts)
    symmetric = (links + links.T).tocsr()
    rng = np.random.default_rng(seed)
    split_of_group = np.zeros(n_groups, np.int64)
    taken = np.zeros(n_groups, bool)
    for split in sorted(range(1, len(ratios)), key=lambda k: (ratios[k], k)):
        target = ratios[split] * len(group_of)
        want = ratios[split] * counts.sum(axis=0)
        free = np.flatnonzero(~taken)
        isolation = np.asarray(symmetric[free].sum(axis=1)).ravel() / sizes[free]
        candidates = np.unique(
            np.r_[free[np.argsort(isolation, kind="stable")[: seeds // 2]], rng.permutation(free)[: seeds // 2]]
        )
        best = None
        for start in candidates:
            region = _grow(start, taken, sizes, counts, want, symmetric, target, rng)
            inside = np.zeros(n_groups, bool)
            inside[region] = True
            across = float(symmetric[region][:, ~inside].sum())
            if best is None or across < best[0]:
                best = (across, region)
        taken[best[1]] = True
        split_of_group[best[1]] = split
    return split_of_group[group_of]


def _grow(start, taken, sizes, counts, want, symmetric, target, rng) -> list[int]:
    """One region from ``start``: the free group most attached to it next, until it holds ``target`` images."""
    free = ~taken.copy()
    free[start] = False
    region, total = [int(start)], sizes[start]
    attached = symmetric[start].toarray().ravel()
    still = want - counts[start]
    tie = rng.random(len(sizes))
    while total < target:
        fits = np.flatnonzero(free & (sizes <= target - total + 0.5 * sizes))
        if not len(fits):
            break
        wanted = (counts[fits] * np.maximum(still, 0)).sum(axis=1) / sizes[fits]
        pick = int(fits[np.lexsort((tie[fits], wanted, np.round(attached[fits] / sizes[fits], 2)))[-1]])
        region.append(pick)
        total += sizes[pick]
        free[pick] = False
        still -= counts[pick]
        attached += symmetric[pick].toarray().ravel()
    return region


def _embed(dataset, options: SplitOptions, timings: dict) -> tuple[np.ndarray, object]:
    """The embedding of every image, and the backbone (None with ``--embeddings``)."""
    from .curation.embed import embed_for_curation

    embedded = embed_for_curation(dataset, options.embedding, timings, seed=options.seed, progress=options.progress)
    return np.asarray(embedded.images, np.float32), embedded.backbone


def share_gaps(box_counts: np.ndarray, split_of: np.ndarray, names: list[str]) -> dict[str, float]:
    """Per split, the largest difference (percentage points) between a category's share of the split's boxes and
    its share of all boxes."""
    whole = box_counts.sum(axis=0) / max(box_counts.sum(), 1)
    gaps = {}
    for index, name in enumerate(names):
        part = box_counts[split_of == index].sum(axis=0)
        gaps[name] = round(100 * float(np.abs(part / max(part.sum(), 1) - whole).max()), 2) if part.sum() else 0.0
    return gaps


def split_dataset(path: Path | str, options: SplitOptions) -> SplitResult:
    """Group, assign, write and leak-check; returns what was done."""
    from .curation.dedup import content_hashes, near_copy_pairs
    from .curation.features import scoring_features
    from .curation.groups import link_groups, link_weights, separate
    from .curation.objects import box_counts as count_boxes
    from .datasets import read_with_options

    names = check_options(options)
    check_output_dir(options.out, overwrite=options.overwrite)
    named = [("the dataset", path), ("--groups", options.groups), ("--embeddings", options.embedding.embeddings)]
    check_apart(options.out, named + [("--cache-dir", options.embedding.cache_dir)])
    timings: dict[str, float] = {}
    started = time.perf_counter()
    dataset = read_with_options(path, options.reading, options.embedding.cache_dir)
    check_apart(options.out, dataset_inputs(dataset))
    # file-name order, so listing order never matters; the input's own split lists (VOC ImageSets) do not describe
    # the new splits, so they are not written
    extra = {key: value for key, value in dataset.extra.items() if key != "splits"}
    images = sorted(dataset.images, key=lambda img: img.file_name)
    dataset = dataclasses.replace(dataset, images=images, extra=extra)
    if len(dataset) < len(names):
        raise EdgepruneError(f"{path}: {len(dataset)} images cannot fill {len(names)} splits")
    given_map = read_groups(options.groups, [img.file_name for img in dataset.images]) if options.groups else {}
    if not options.groups:  # a folder of videos: each frame's video is its group
        given_map = {img.file_name: img.extra["video"] for img in dataset.images if "video" in img.extra}
    timings["read"] = time.perf_counter() - started
    embeddings, backbone = _embed(dataset, options, timings)
    started = time.perf_counter()
    given = [given_map.get(img.file_name) for img in dataset.images]
    largest = max(1, int(min(options.ratios) * len(dataset)))  # no merge past the smallest split's share
    features = scoring_features(embeddings)  # as the leak check sees them: centred on the whole set
    group_of = link_groups(features, content_hashes(dataset), given, options.threshold, max_group=largest)
    boxes, _ = count_boxes(dataset)
    links = link_weights(group_of, near_copy_pairs(features, options.threshold))
    split_of = assign_groups(group_of, boxes, options.ratios, options.seed)
    dropped = separate(embeddings, split_of, options.threshold, options.ratios)
    if links.nnz and dropped:  # near-copies join groups: try keeping linked groups in one split, keep the better
        grown = grow_splits(group_of, boxes, options.ratios, options.seed, links)
        fewer = separate(embeddings, grown, options.threshold, options.ratios)
        if len(fewer) < len(dropped):
            split_of, dropped = grown, fewer
    timings["assign"] = time.perf_counter() - started
    grouping = Grouping(group_of, split_of, dropped, len(set(given_map.values())))
    return _write(dataset, grouping, boxes, names, options, backbone, timings)


@dataclass
class Grouping:
    """Where every image goes: its group, its split, and the images dropped to keep near-copies apart."""

    group_of: np.ndarray
    split_of: np.ndarray  # before drops
    dropped: list  # curation.groups.Dropped
    given_groups: int

    def final_split(self) -> np.ndarray:
        """The split of every image, -1 where dropped."""
        split_of = self.split_of.copy()
        split_of[[drop.index for drop in self.dropped]] = -1
        return split_of


def _write_tables(tmp: Path, dataset, grouping: Grouping, names: list[str]) -> None:
    """``split.csv`` (every image: split or ``dropped``, group, group size) and ``dropped.csv``."""
    sizes = np.bincount(grouping.group_of)
    split_of = grouping.final_split()
    with (tmp / "split.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "split", "group", "group_size"])
        for img, s, g in zip(dataset.images, split_of, grouping.group_of):
            writer.writerow([img.file_name, names[s] if s >= 0 else "dropped", int(g), int(sizes[g])])
    with (tmp / "dropped.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "split", "group", "near_copy_of", "its_split", "similarity", "reason"])
        for drop in grouping.dropped:
            writer.writerow(
                [
                    dataset.images[drop.index].file_name,
                    names[drop.split],
                    int(grouping.group_of[drop.index]),
                    dataset.images[drop.partner].file_name,
                    names[grouping.split_of[drop.partner]],
                    f"{drop.similarity:.6f}",
                    "near-copy across splits",
                ]
            )


def _write(dataset, grouping: Grouping, boxes, names, options: SplitOptions, backbone, timings) -> SplitResult:
    from .datasets import read_dataset, write_dataset
    from .leaks import LeakOptions, search_splits

    started = time.perf_counter()
    group_of, split_of = grouping.group_of, grouping.final_split()
    sizes = np.bincount(group_of)
    notes = []
    empty = [name for index, name in enumerate(names) if not (split_of == index).any()]
    if empty:
        notes.append(f"splits left empty (one group is larger than their share): {', '.join(empty)}")
    with atomic_output_dir(options.out, overwrite=options.overwrite) as tmp:
        output_format = ""
        for index, name in enumerate(names):
            output_format = write_dataset(
                dataset.subset(split_of == index), tmp / name, format=options.out_format, image_mode=options.image_mode
            )
        _write_tables(tmp, dataset, grouping, names)
        written = [(name, read_dataset(tmp / name)) for name in names if name not in empty]
        leak_options = LeakOptions(
            out=tmp / "leak_check",
            threshold=options.threshold,
            embedding=options.embedding.reusing(backbone),  # the backbone the groups came from
            seed=options.seed,
            progress=options.progress,
        )
        leaks = search_splits(written, leak_options) if len(written) > 1 else None
        if leaks is not None and leaks.flagged:
            shown = "; ".join(f"{leak.image} ~ {leak.nearest} ({leak.similarity:.3f})" for leak in leaks.leaks[:3])
            raise EdgepruneError(
                f"the leak check found {leaks.flagged} leaks between the written splits ({shown}); nothing was written"
            )
        result = SplitResult(
            options.out,
            {name: int((split_of == i).sum()) for i, name in enumerate(names)},
            {name: int(boxes[split_of == i].sum()) for i, name in enumerate(names)},
            len(sizes),
            int(sizes.max()) if len(sizes) else 0,
            int((sizes[group_of] >= 2).sum()),
            share_gaps(boxes, split_of, names),
            leaks.flagged if leaks is not None else 0,
            output_format,
            timings,
            notes,
            grouping.given_groups,
            len(grouping.dropped),
        )
        timings["write"] = time.perf_counter() - started
        (tmp / "summary.json").write_text(json.dumps(asdict(result), default=str, indent=2))
    return result
