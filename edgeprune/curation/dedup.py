"""Near-duplicate detection: each image is either a representative or within a cosine-similarity threshold of one.

Grouping is greedy and not transitive (leader clustering): images are visited in order, and an image whose cosine
similarity to an earlier representative reaches the threshold joins the most similar representative; any other
image becomes a representative itself. So every member of a group is a near-copy of its representative. The
transitive alternative (connected components of the "similar" graph) chains video frames: on FOD-A's 23k frames at
0.9 it joined every frame into one group. Work is blocked: each block of rows asks a nearest-neighbour index of the
representatives so far for its most similar one (faiss ``IndexFlatIP`` when installed, else matrix products over
tiles of representatives), then is resolved among itself; memory stays O(block x tile), never O(n x n).
"""

from __future__ import annotations

import numpy as np

from ..errors import EdgepruneError
from ..vectors import l2_normalize

_BLOCK_ROWS = 1024
_TILE_ROWS = 8192


class LeaderIndex:
    """The representatives so far, searchable for each query's most similar one (inner product of unit rows)."""

    def __init__(self, dim: int, *, use_faiss: bool | None = None) -> None:
        from ..cluster.kmeans import faiss_available

        self.use_faiss = faiss_available() if use_faiss is None else use_faiss
        self.ids: list[int] = []
        if self.use_faiss:
            import faiss

            self.index = faiss.IndexFlatIP(dim)
        else:
            self.tiles: list[np.ndarray] = []

    def add(self, rows: np.ndarray, ids: list[int]) -> None:
        """Add representatives (unit rows) with their image indices."""
        if not ids:
            return
        rows = np.ascontiguousarray(rows, np.float32)
        self.ids += ids
        if self.use_faiss:
            self.index.add(rows)
        elif self.tiles and len(self.tiles[-1]) + len(rows) <= _TILE_ROWS:
            self.tiles[-1] = np.concatenate([self.tiles[-1], rows])
        else:
            self.tiles.append(rows)

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(similarity, image index)`` of each query's most similar representative (-inf, -1 when there is none)."""
        best = np.full(len(queries), -np.inf)
        leader = np.full(len(queries), -1, np.int64)
        if not self.ids:
            return best, leader
        ids = np.asarray(self.ids, np.int64)
        if self.use_faiss:
            similarity, position = self.index.search(np.ascontiguousarray(queries, np.float32), 1)
            return similarity[:, 0].astype(np.float64), ids[position[:, 0]]
        offset = 0
        for tile in self.tiles:
            similarity = queries @ tile.T
            position = similarity.argmax(axis=1)
            value = similarity[np.arange(len(queries)), position]
            better = value > best
            best[better], leader[better] = value[better], ids[offset + position[better]]
            offset += len(tile)
        return best, leader


def duplicate_groups(features: np.ndarray, threshold: float, *, use_faiss: bool | None = None) -> list[np.ndarray]:
    """Index arrays ``[representative, members...]`` (members ascending) of the images within ``threshold`` cosine
    similarity of an earlier representative; groups are ordered by representative. ``use_faiss``: None = when
    installed."""
    if not 0.0 < threshold <= 1.0:
        raise EdgepruneError(f"dedup threshold must be in (0, 1], got {threshold}")
    X = np.ascontiguousarray(l2_normalize(features), np.float32)
    n = len(X)
    leader_of = np.full(n, -1, np.int64)
    leaders = LeaderIndex(X.shape[1], use_faiss=use_faiss)
    cutoff = threshold - 1e-6
    for start in range(0, n, _BLOCK_ROWS):
        block = X[start : start + _BLOCK_ROWS]
        best_similarity, best_leader = leaders.nearest(block)
        inside = block @ block.T
        new: list[int] = []
        for i in range(len(block)):  # in order, as if one row at a time: join the most similar earlier leader
            if best_similarity[i] >= cutoff:
                leader_of[start + i] = best_leader[i]
                continue
            new.append(i)
            closer = np.flatnonzero(inside[i, i + 1 :] > best_similarity[i + 1 :]) + i + 1
            best_similarity[closer] = inside[i, closer]
            best_leader[closer] = start + i
        leaders.add(block[new], [start + i for i in new])
    groups: dict[int, list[int]] = {}
    for index in np.flatnonzero(leader_of >= 0):
        groups.setdefault(int(leader_of[index]), []).append(int(index))
    return [np.array([leader, *members], np.int64) for leader, members in sorted(groups.items())]


def duplicate_of(groups: list[np.ndarray], n: int) -> np.ndarray:
    """For each image, the index of its group's representative, or -1 if it is not a duplicate."""
    representative = np.full(n, -1, np.int64)
    for group in groups:
        representative[group[1:]] = group[0]
    return representative


def content_hashes(dataset) -> list[str]:
    """Each image's content hash (:meth:`ImageRecord.content`: exact copies share one, whatever their names),
    remembered from embedding, so the bytes are not read again."""
    return [img.content()[0] for img in dataset.images]


def shared_content(first, second) -> list[tuple[str, str]]:
    """``(file in first, file in second)`` for every image of ``second`` whose bytes also appear in ``first``."""
    seen = dict(zip(content_hashes(first), (img.file_name for img in first.images)))
    return [
        (seen[digest], img.file_name) for digest, img in zip(content_hashes(second), second.images) if digest in seen
    ]


def near_copy_pairs(
    features: np.ndarray, threshold: float, *, block_rows: int = _BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, j)``, ``i < j``, of rows within ``threshold`` cosine similarity (all of them, unlike
    :func:`duplicate_groups`, whose members are near their representative only). Exact O(n^2 d) in blocks of
    ``block_rows``."""
    if not 0.0 < threshold <= 1.0:
        raise EdgepruneError(f"near-copy threshold must be in (0, 1], got {threshold}")
    X = np.ascontiguousarray(l2_normalize(features), np.float32)
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(X), block_rows):
        similarity = X[start : start + block_rows] @ X[start:].T  # the upper triangle: partners at or after start
        i, j = np.nonzero(similarity >= threshold - 1e-6)
        keep = j > i
        rows.append(i[keep].astype(np.int64) + start)
        cols.append(j[keep].astype(np.int64) + start)
    return np.concatenate(rows), np.concatenate(cols)
