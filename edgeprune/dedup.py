"""Near-duplicate detection: each image is either a representative or within a cosine-similarity threshold of one.

Grouping is greedy and not transitive (leader clustering): images are visited in order, and an image whose cosine
similarity to an earlier representative reaches the threshold joins the most similar representative; any other
image becomes a representative itself. So every member of a group is a near-copy of its representative. The
transitive alternative (connected components of the "similar" graph) chains video frames: on FOD-A's 23k frames at
0.9 it joined every frame into one group. Work is blocked: each block of rows is compared with the representatives
so far (matrix products), then resolved among itself; memory stays O(block x representatives).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import EdgepruneError
from .score import l2_normalize

_BLOCK_ROWS = 1024


def duplicate_groups(features: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Index arrays ``[representative, members...]`` (members ascending) of the images within ``threshold`` cosine
    similarity of an earlier representative; groups are ordered by representative."""
    if not 0.0 < threshold <= 1.0:
        raise EdgepruneError(f"dedup threshold must be in (0, 1], got {threshold}")
    X = np.ascontiguousarray(l2_normalize(features), np.float32)
    n = len(X)
    leader_of = np.full(n, -1, np.int64)
    leaders: list[int] = []
    cutoff = threshold - 1e-6
    for start in range(0, n, _BLOCK_ROWS):
        block = X[start : start + _BLOCK_ROWS]
        best_similarity = np.full(len(block), -np.inf)
        best_leader = np.full(len(block), -1, np.int64)
        if leaders:
            similarity = block @ X[leaders].T
            best = similarity.argmax(axis=1)
            best_similarity = similarity[np.arange(len(block)), best]
            best_leader = np.asarray(leaders)[best]
        inside = block @ block.T
        for i in range(len(block)):  # in order, as if one row at a time: join the most similar earlier leader
            if best_similarity[i] >= cutoff:
                leader_of[start + i] = best_leader[i]
                continue
            leaders.append(start + i)
            closer = np.flatnonzero(inside[i, i + 1 :] > best_similarity[i + 1 :]) + i + 1
            best_similarity[closer] = inside[i, closer]
            best_leader[closer] = start + i
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
    """SHA-256 of each image's file bytes (exact copies share a hash, whatever their names)."""
    return [hashlib.sha256(img.read_bytes()).hexdigest() for img in dataset.images]


def shared_content(first, second) -> list[tuple[str, str]]:
    """``(file in first, file in second)`` for every image of ``second`` whose bytes also appear in ``first``."""
    seen = dict(zip(content_hashes(first), (img.file_name for img in first.images)))
    return [
        (seen[digest], img.file_name) for digest, img in zip(content_hashes(second), second.images) if digest in seen
    ]
