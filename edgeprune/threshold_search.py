"""Nearest earlier row of every query row, exact wherever the similarity reaches a threshold: the search behind
``edgeprune leaks`` at 100k x 100k.

Rows are unit vectors, so the inner product is the cosine similarity. A brute-force search costs
``queries x earlier x D`` multiply-adds: 100k x 100k x 1280 is 2.6e13 FLOP, minutes on two cores. Above
:data:`EXACT_FLOP_LIMIT` the search bounds instead of computing:

1. Project every row on the top ``dims`` principal directions ``P`` (fitted on a seeded sample of both sets), and
   keep the length of what the projection leaves out, ``r = |x - P P^T x|``.
2. For unit rows ``x . y = Px . Py + Rx . Ry``, and ``|Rx . Ry| <= r_x r_y`` (Cauchy-Schwarz), so
   ``[Px, r_x] . [Py, r_y]`` is an upper bound on ``x . y``: one matrix product of ``dims + 1`` columns bounds every
   pair.
3. A pair can reach the threshold only where its bound does. A query is scored exactly, in all ``D`` columns,
   against each tile of earlier rows that holds such a bound and could beat its best exact score so far. Rows
   without one get their highest-bound neighbour scored exactly.

So every pair at or above the threshold is found, and its similarity is exact. Below the threshold, the reported
neighbour and similarity are those of the highest-bound row: a real pair scored exactly, at most the true nearest
similarity. :class:`NearestEarlier` says which rows are exact.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)
EXACT_FLOP_LIMIT = 2e11  # queries x earlier x D below this: brute force, every nearest neighbour exact
PROJECTED_DIMS = 32
SAMPLE_ROWS = 20_000  # rows that fit the projection
QUERY_BLOCK = 512  # queries per thread's block
EARLIER_BLOCK = 1024  # columns per tile: 512 x 1024 float32 stays in cache (8.9 s against 5.7 s per 100k x 100k)
DENSE_SHARE = 0.05  # a tile's rescoring becomes one dense product where this share of its pairs are candidates
BOUND_SLACK = 1e-4  # float32 rounding of the bound's product, far above its worst case at dims + 1 columns
_RESIDUAL_FLOOR = 1e-6  # added under the square root: rounding of |x|^2 - |Px|^2 never makes a bound too small


@dataclass
class NearestEarlier:
    """The nearest earlier row of each query: its index, its similarity, and whether it is the true nearest.
    ``exact`` is True for every row when the search was brute force, and for every row at or above the threshold
    when it was bounded."""

    index: np.ndarray  # int64 [queries]
    similarity: np.ndarray  # float64 [queries]
    exact: np.ndarray  # bool [queries]
    bounded: bool
    candidates: int = 0  # pairs scored in full after the bound (bounded search only)


def brute_force(queries: np.ndarray, earlier: np.ndarray, *, use_faiss: bool | None = None) -> NearestEarlier:
    """The exact nearest earlier row of every query: a faiss inner-product index when faiss is installed, blocked
    matrix products otherwise."""
    if use_faiss is None:
        from .cluster.kmeans import faiss_available

        use_faiss = faiss_available()
    queries = np.ascontiguousarray(queries, np.float32)
    earlier = np.ascontiguousarray(earlier, np.float32)
    if use_faiss:
        import faiss

        index = faiss.IndexFlatIP(earlier.shape[1])
        index.add(earlier)
        similarity, nearest = index.search(queries, 1)
        nearest, similarity = nearest[:, 0].astype(np.int64), similarity[:, 0].astype(np.float64)
    else:
        nearest = np.empty(len(queries), np.int64)
        similarity = np.empty(len(queries), np.float64)
        for start in range(0, len(queries), 4096):
            block = queries[start : start + 4096] @ earlier.T
            nearest[start : start + 4096] = block.argmax(axis=1)
            similarity[start : start + 4096] = block.max(axis=1)
    return NearestEarlier(nearest, similarity, np.ones(len(queries), bool), bounded=False)


def fit_projection(rows: list[np.ndarray], dims: int, seed: int = 0) -> np.ndarray:
    """``[D, dims]`` orthonormal principal directions of a seeded sample of ``rows`` (uncentred: the bound holds for
    any orthonormal basis, and the leading directions of the second moment leave the least residual)."""
    rng = np.random.default_rng(seed)
    total = sum(len(r) for r in rows)
    take = [min(len(r), max(1, round(SAMPLE_ROWS * len(r) / total))) for r in rows]
    sample = np.concatenate([r[np.sort(rng.choice(len(r), n, replace=False))] for r, n in zip(rows, take)])
    sample = sample.astype(np.float64)
    if len(sample) < sample.shape[1]:  # fewer rows than columns: the right singular vectors, at most one per row
        return np.ascontiguousarray(np.linalg.svd(sample, full_matrices=False)[2][:dims].T)
    _, vectors = np.linalg.eigh(sample.T @ sample)
    return np.ascontiguousarray(vectors[:, ::-1][:, :dims])


def _bound_rows(rows: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """``[Px, r_x]`` in float32: the projection and the length of the residual (float64 until the end)."""
    out = np.empty((len(rows), projection.shape[1] + 1), np.float32)
    for start in range(0, len(rows), 16384):
        block = np.asarray(rows[start : start + 16384], np.float64)
        projected = block @ projection
        residual = np.einsum("ij,ij->i", block, block) - np.einsum("ij,ij->i", projected, projected)
        out[start : start + len(block), :-1] = projected
        out[start : start + len(block), -1] = np.sqrt(np.maximum(residual, 0.0) + _RESIDUAL_FLOOR)
    return out


@dataclass
class _Block:
    """What one block of queries found: per query, the highest-bound row, and the best row scored in full."""

    bound_row: np.ndarray
    scored_row: np.ndarray
    scored: np.ndarray  # float32; -inf where no row was scored in full
    pairs_scored: int


def _search_block(queries: np.ndarray, earlier: np.ndarray, bounds: tuple, floor: float) -> _Block:
    """One block of queries against every earlier row, a tile of :data:`EARLIER_BLOCK` rows at a time (one buffer
    that stays in cache). ``bounds`` is ``(query [Px, r] rows, earlier [Px, r] transposed)``. A query is scored in
    full against a tile only where the tile holds a bound that reaches ``floor`` and beats the query's best full
    score so far (branch and bound: with many near-copies, as in video frames, most tiles are skipped)."""
    q_bound, e_bound_t = bounds
    rows = np.arange(len(queries))
    best_bound = np.full(len(queries), -np.inf, np.float32)
    bound_row = np.zeros(len(queries), np.int64)
    scored = np.full(len(queries), -np.inf, np.float32)
    scored_row = np.zeros(len(queries), np.int64)
    buffer = np.empty((len(queries), EARLIER_BLOCK), np.float32)
    pairs = 0
    for start in range(0, e_bound_t.shape[1], EARLIER_BLOCK):
        bound = buffer[:, : min(EARLIER_BLOCK, e_bound_t.shape[1] - start)]
        np.matmul(q_bound, e_bound_t[:, start : start + EARLIER_BLOCK], out=bound)
        top = bound.argmax(axis=1)
        value = bound[rows, top]
        better = value > best_bound
        best_bound[better], bound_row[better] = value[better], top[better] + start
        hot = np.flatnonzero((value >= floor) & (value > scored + BOUND_SLACK))
        if len(hot):
            # Only the pairs whose bound reaches the floor and beats the query's best full score so far.
            needed = np.maximum(floor, scored[hot] + BOUND_SLACK)
            mask = bound[hot] >= needed[:, None]
            count = int(np.count_nonzero(mask))
            if count > DENSE_SHARE * mask.size:  # near-copies everywhere (video): one product beats gathering rows
                full = queries[hot] @ earlier[start : start + bound.shape[1]].T
                top = full.argmax(axis=1)
                q, e, value = hot, top + start, full[np.arange(len(hot)), top]
                pairs += full.size
            else:
                q, e = np.nonzero(mask)
                q, e = hot[q], e + start
                value = np.einsum("ij,ij->i", queries[q], earlier[e])
                pairs += count
                order = np.lexsort((-value, q))  # by query, best first
                first = order[np.r_[True, q[order][1:] != q[order][:-1]]]
                q, e, value = q[first], e[first], value[first]
            better = value > scored[q]
            scored[q[better]], scored_row[q[better]] = value[better], e[better]
    return _Block(bound_row, scored_row, scored, pairs)


def bounded_search(
    queries: np.ndarray,
    earlier: np.ndarray,
    threshold: float,
    *,
    dims: int = PROJECTED_DIMS,
    seed: int = 0,
    workers: int | None = None,
) -> NearestEarlier:
    """The nearest earlier row of each query, exact for every query whose nearest reaches ``threshold`` (see the
    module docstring). Query blocks run on ``workers`` threads (default: the CPUs this process may use)."""
    import os

    from threadpoolctl import threadpool_limits

    queries = np.ascontiguousarray(queries, np.float32)
    earlier = np.ascontiguousarray(earlier, np.float32)
    projection = fit_projection([queries, earlier], dims, seed)
    q_bound = _bound_rows(queries, projection)
    e_bound_t = np.ascontiguousarray(_bound_rows(earlier, projection).T)
    floor = float(threshold) - BOUND_SLACK
    workers = workers or max(1, len(os.sched_getaffinity(0)))

    def block(start: int) -> _Block:
        end = start + QUERY_BLOCK
        return _search_block(queries[start:end], earlier, (q_bound[start:end], e_bound_t), floor)

    # One BLAS thread per block and one block per core: 2x faster than BLAS's own threads on these small products.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        blocks = list(pool.map(block, range(0, len(queries), QUERY_BLOCK)))
    nearest = np.concatenate([b.bound_row for b in blocks])
    similarity = np.einsum("ij,ij->i", queries, earlier[nearest]).astype(np.float64)
    scored = np.concatenate([b.scored for b in blocks]).astype(np.float64)
    upgrade = scored > similarity
    nearest[upgrade] = np.concatenate([b.scored_row for b in blocks])[upgrade]
    similarity[upgrade] = scored[upgrade]
    pairs = sum(b.pairs_scored for b in blocks)
    log.info(
        "bounded search: %d x %d rows, %d of %d dims, %d pairs scored in full",
        len(queries),
        len(earlier),
        projection.shape[1],
        queries.shape[1],
        pairs,
    )
    exact = similarity >= threshold - 1e-6
    return NearestEarlier(nearest, similarity, exact, bounded=True, candidates=pairs)


def nearest_earlier(
    queries: np.ndarray, earlier: np.ndarray, threshold: float | None = None, *, use_faiss: bool | None = None
) -> NearestEarlier:
    """Brute force while ``queries x earlier x D`` stays under :data:`EXACT_FLOP_LIMIT` (or without a threshold);
    the bounded search above it, when the projection leaves at least half of the columns out."""
    work = float(len(queries)) * len(earlier) * queries.shape[1]
    if threshold is None or work <= EXACT_FLOP_LIMIT or queries.shape[1] < 2 * PROJECTED_DIMS:
        return brute_force(queries, earlier, use_faiss=use_faiss)
    return bounded_search(queries, earlier, threshold)
