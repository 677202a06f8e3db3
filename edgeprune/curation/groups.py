"""Groups of images that must stay on one side of a split, without chaining a whole video collection into one.

The transitive closure of near-copy links (single linkage) chains: one link between two clips of the same scene
merges them, and 83 clips of one tarmac become one component. So groups are built in three steps:

1. **Units.** A given group (``--groups``: a video or clip) is one unit and is never cut. Byte-identical files join
   one unit. Images without a given group join the leader-clustering groups of ``dedup`` (each member within the
   threshold of its representative, not transitive).
2. **Strong links only.** Two units merge when cutting their link would cost at least ``link_share`` of the smaller
   one: on both sides, that many of its images have a near-copy in the other (a clip that repeats another, or a
   loose frame that copies a clip), not one stray frame. Merges go strongest first and never grow a group past
   ``max_group`` images, so no giant component can form.
3. **Drops.** The near-copies left across split boundaries (one stray pair between two clips) are resolved by
   dropping the fewest frames that cut every such pair (greedy vertex cover, most links first, then from the split
   furthest above its share), listed with the reason. Features are re-centred on what is left each round, exactly
   as the leak check sees the written splits, until no pair is left.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EdgepruneError
from .dedup import duplicate_groups, near_copy_pairs
from .features import scoring_features

_MARGIN = 1e-5  # drop pairs this far below the threshold too: the leak check's float path may round differently


def read_groups(path: Path, file_names: list[str]) -> dict[str, str]:
    """``image -> group`` from a CSV with ``image`` and ``group`` columns; images are file names as the dataset
    lists them. An unknown image or a missing column is an error naming the file and line."""
    known = set(file_names)
    groups: dict[str, str] = {}
    try:
        with Path(path).open(newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"image", "group"} <= set(reader.fieldnames):
                raise EdgepruneError(f"{path}: needs a header with 'image' and 'group' columns")
            for line, row in enumerate(reader, 2):
                image, group = (row["image"] or "").strip(), (row["group"] or "").strip()
                if image not in known:
                    raise EdgepruneError(f"{path}:{line}: image {image!r} is not in the dataset")
                if not group:
                    raise EdgepruneError(f"{path}:{line}: image {image!r} has an empty group")
                groups[image] = group
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgepruneError(f"{path}: cannot read the groups file ({exc})") from None
    return groups


def group_labels(path: Path, file_names: list[str]) -> np.ndarray:
    """The group of every image, in ``file_names`` order, from a ``--groups`` CSV that must list them all."""
    groups = read_groups(path, file_names)
    missing = [name for name in file_names if name not in groups]
    if missing:
        raise EdgepruneError(
            f"{path}: {len(missing)} of the dataset's {len(file_names)} images have no group (first: {missing[0]!r})"
        )
    return np.array([groups[name] for name in file_names], dtype=object)


def image_groups(dataset, groups_csv: Path | None) -> np.ndarray | None:
    """The group of every image: from the ``groups`` CSV when one is given, else the dataset's own (a frame's video,
    :mod:`edgeprune.datasets.video`), else None."""
    names = [img.file_name for img in dataset.images]
    if groups_csv is not None:
        return group_labels(groups_csv, names)
    own = [img.extra.get("video") for img in dataset.images]
    if own and all(group is not None for group in own):
        return np.array(own, dtype=object)
    return None


class _Union:
    """Union-find over ``n`` items, tracking each root's size."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)
        self.size = np.ones(n, np.int64)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return int(root)

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a != b:
            a, b = (a, b) if a < b else (b, a)
            self.parent[b] = a
            self.size[a] += self.size[b]
        return a

    def labels(self) -> np.ndarray:
        """Dense labels ``0..k-1`` in order of first appearance."""
        roots = np.array([self.find(i) for i in range(len(self.parent))], np.int64)
        return np.unique(roots, return_inverse=True)[1].astype(np.int64)


def units(features: np.ndarray, hashes: list[str], given: list[str | None], threshold: float) -> np.ndarray:
    """Step 1: the unit of every image (given groups, identical files, leader groups of the ungrouped)."""
    n = len(hashes)
    union = _Union(n)
    for values in (given, hashes):
        first: dict[str, int] = {}
        for index, value in enumerate(values):
            if value is not None:
                union.union(first.setdefault(value, index), index)
    loose = np.array([index for index, value in enumerate(given) if value is None], np.int64)
    if len(loose) > 1:
        for group in duplicate_groups(features[loose], threshold):
            for member in group[1:]:
                union.union(int(loose[group[0]]), int(loose[member]))
    return union.labels()


def link_strengths(unit_of: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> list[tuple[float, int, int]]:
    """``(strength, a, b)`` for every pair of linked units ``a < b``, strongest first (ties by unit index).

    The strength is how many frames it would take to cut the link, relative to the smaller unit: the fewer of the
    two counts of images with a near-copy on the other side, over the smaller unit's size. One stray frame of clip
    ``b`` that copies a static clip ``a`` touches every frame of ``a`` but one of ``b``: strength 1/|smaller|. A
    clip that repeats another touches most frames of both: strength near 1.
    """
    touched = link_weights(unit_of, pairs).tocoo()
    count = dict(zip(zip(touched.row.tolist(), touched.col.tolist()), touched.data.tolist()))
    sizes = np.bincount(unit_of)
    found = [(min(c, count[b, a]) / min(sizes[a], sizes[b]), a, b) for (a, b), c in count.items() if a < b]
    return sorted(found, key=lambda link: (-link[0], link[1], link[2]))


def link_groups(
    features: np.ndarray,
    hashes: list[str],
    given: list[str | None],
    threshold: float,
    *,
    link_share: float = 0.5,
    max_group: int | None = None,
) -> np.ndarray:
    """Steps 1 and 2: the group of every image (dense labels). ``features``: unit rows (centred, normalised)."""
    unit_of = units(features, hashes, given, threshold)
    sizes = np.bincount(unit_of)
    union = _Union(len(sizes))
    union.size = sizes.astype(np.int64).copy()
    for strength, a, b in link_strengths(unit_of, near_copy_pairs(features, threshold)):
        if strength < link_share:
            break
        ra, rb = union.find(a), union.find(b)
        if ra != rb and (max_group is None or union.size[ra] + union.size[rb] <= max_group):
            union.union(ra, rb)
    return union.labels()[unit_of]


def link_weights(group_of: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]):
    """Sparse ``[groups, groups]`` matrix: entry ``[a, b]`` counts the images of group ``a`` with a near-copy in
    group ``b`` (``pairs``: every near-copy pair of images)."""
    from scipy.sparse import coo_matrix

    i, j = pairs
    cross = group_of[i] != group_of[j]
    i, j = i[cross], j[cross]
    n, size = len(group_of), int(group_of.max()) + 1 if len(group_of) else 0
    key = np.unique((group_of[np.r_[i, j]].astype(np.int64) * size + group_of[np.r_[j, i]]) * n + np.r_[i, j])
    links, counts = np.unique(key // n, return_counts=True)
    return coo_matrix((counts.astype(np.float64), (links // size, links % size)), shape=(size, size)).tocsr()


@dataclass
class Dropped:
    """An image dropped so that no near-copy crosses a split: its split, and its closest partner across."""

    index: int
    split: int
    partner: int
    similarity: float


def _cover(i: np.ndarray, j: np.ndarray, split_of: np.ndarray, kept: np.ndarray, ratios: np.ndarray) -> list[int]:
    """Greedy vertex cover of the cross-split pairs ``(i, j)``: the image with most pairs left first, ties to the
    split furthest above its share (as it stood when the image was last updated), then the lower index. A lazy
    max-heap keeps it O(pairs log images)."""
    import heapq

    from scipy.sparse import coo_matrix

    n = len(split_of)
    graph = coo_matrix((np.ones(2 * len(i), np.int8), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    graph.sum_duplicates()
    degree = np.diff(graph.indptr).astype(np.int64)
    counts = np.bincount(split_of[kept], minlength=len(ratios)).astype(np.float64)

    def entry(v: int) -> tuple:
        surplus = counts[split_of[v]] / max(counts.sum(), 1) - ratios[split_of[v]]
        return (-int(degree[v]), -surplus, v)

    heap = [entry(v) for v in np.flatnonzero(degree)]
    heapq.heapify(heap)
    removed = np.zeros(n, bool)
    chosen = []
    while heap:
        negative, _, v = heapq.heappop(heap)
        if removed[v] or degree[v] == 0:
            continue
        if -negative != degree[v]:
            heapq.heappush(heap, entry(v))  # stale: its degree fell since it was pushed
            continue
        chosen.append(int(v))
        removed[v] = True
        counts[split_of[v]] -= 1
        neighbours = graph.indices[graph.indptr[v] : graph.indptr[v + 1]]
        degree[neighbours[~removed[neighbours]]] -= 1  # CSR rows hold each neighbour once
        degree[v] = 0
    return chosen


def _closest_across(features: np.ndarray, rows: np.ndarray, picks: list[int], split_of: np.ndarray) -> list:
    """For each picked image, its most similar image in another split (among ``rows``) and the similarity."""
    found = []
    position = np.searchsorted(rows, picks)
    for start in range(0, len(picks), 1024):
        similarity = features[position[start : start + 1024]] @ features.T
        other = split_of[rows][None, :] != split_of[np.asarray(picks[start : start + 1024])][:, None]
        similarity = np.where(other, similarity, -np.inf)
        best = similarity.argmax(axis=1)
        found += [(int(rows[b]), float(similarity[k, b])) for k, b in enumerate(best)]
    return found


def separate(
    embeddings: np.ndarray, split_of: np.ndarray, threshold: float, ratios: list[float], *, rounds: int = 10
) -> list[Dropped]:
    """Step 3: the images to drop so that no two images of different splits are near-copies, judged on features
    centred over the images kept (as the leak check of the written splits computes them)."""
    kept = np.ones(len(split_of), bool)
    dropped: list[Dropped] = []
    ratios_arr = np.asarray(ratios, np.float64)
    for _ in range(rounds):
        rows = np.flatnonzero(kept)
        features = scoring_features(embeddings[rows])
        a, b = near_copy_pairs(features, threshold - _MARGIN)
        a, b = rows[a], rows[b]
        cross = split_of[a] != split_of[b]
        a, b = a[cross], b[cross]
        if not len(a):
            return dropped
        picks = _cover(a, b, split_of, kept, ratios_arr)
        for pick, (partner, similarity) in zip(picks, _closest_across(features, rows, picks, split_of)):
            dropped.append(Dropped(pick, int(split_of[pick]), partner, similarity))
        kept[picks] = False
    raise RuntimeError(f"near-copies still cross the splits after {rounds} rounds of drops")
