"""Near-duplicate detection: groups of images whose embeddings have cosine similarity above a threshold.

Similarities are computed block by block (``X[block] @ X.T``, memory bounded), pairs above the threshold become
edges of a sparse graph, and its connected components are the duplicate groups (so grouping is transitive).
The first image of each group (lowest index) represents it; the others are duplicates.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .errors import EdgepruneError
from .score import l2_normalize

_BLOCK_ELEMENTS = 1 << 24


def duplicate_groups(features: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Index arrays (ascending, size >= 2) of images whose cosine similarity chains reach ``threshold``."""
    if not 0.0 < threshold <= 1.0:
        raise EdgepruneError(f"dedup threshold must be in (0, 1], got {threshold}")
    X = l2_normalize(features)
    n = len(X)
    step = max(1, _BLOCK_ELEMENTS // max(n, 1))
    rows, cols = [], []
    for start in range(0, n, step):
        similarity = X[start : start + step] @ X.T
        block_rows, block_cols = np.nonzero(similarity >= threshold - 1e-6)
        block_rows += start
        upper = block_cols > block_rows
        rows.append(block_rows[upper])
        cols.append(block_cols[upper])
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows_all)), (rows_all, cols_all)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    order = np.argsort(component, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(component[order])) + 1)
    return sorted((np.sort(g) for g in groups if len(g) > 1), key=lambda g: g[0])


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
