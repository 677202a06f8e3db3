"""Coverage policies: which images to keep so that the kept set covers the embedding space, for the high pruning
rates where score-based policies (keep the easy, keep the hard) lose to random in the literature.

Each function takes unit embeddings (rows of ``features``) or a difficulty score, and returns a *preference order*:
every index, most wanted first. The first ``count`` of it are the policy's selection; :func:`deal_by_group` deals
the same order round-robin over videos or clips, so no group gets a second image before every group has one.

- :func:`typical_order` (TypiClust; Hacohen, Dekel & Weinshall, ICML 2022): k-means into as many clusters as the
  budget (at most ``max_clusters``), then the most typical image of each cluster (highest density: the inverse
  mean distance to its nearest neighbours in the cluster), largest clusters first; further rounds take each
  cluster's next most typical image.
- :func:`probcover_order` (ProbCover; Yehuda, Dekel, Hacohen & Weinshall, NeurIPS 2022): greedy maximum coverage
  by balls of radius ``delta``: each pick covers the most images not yet covered. :func:`purity_delta` chooses
  ``delta`` as the paper does: the largest radius whose balls stay pure (one k-means cluster) for ``purity`` of the
  images.
- :func:`ccs_order` (Coverage-centric coreset selection; Zheng, Liu, Li & Prakash, ICLR 2023): drop the hardest
  ``beta`` share of a difficulty score, cut the rest into ``strata`` equal-width strata and share the budget
  evenly, smallest stratum first (a stratum smaller than its share gives the rest to the others), randomly within a
  stratum.
- :func:`zcore_scores` (ZCore; Griffin, Marks & Corso 2024): Monte-Carlo coverage and redundancy. Points are drawn
  in random ``sample_dim``-dimensional slices of the embedding (triangular between each dimension's min, median and
  max); the image nearest a draw gains 1 (coverage) and its ``redundancy_neighbors`` nearest images lose 1 in
  total, weighted by inverse distance to the power ``redundancy_exponent`` (redundancy). Higher is kept first.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

_BLOCK = 2048


def order_from_scores(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score, ties by index."""
    return np.argsort(-np.asarray(scores, np.float64), kind="stable")


def deal_by_group(order: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``order`` dealt round-robin over ``groups``: every group's best image (in ``order``) first, then every
    group's second best, and so on; within a round, in ``order``'s order. Groups that run out drop out."""
    order = np.asarray(order, np.int64)
    groups = np.asarray(groups)
    _, group_index = np.unique(groups[order], return_inverse=True)
    round_of = np.zeros(len(order), np.int64)
    seen = np.zeros(group_index.max() + 1 if len(order) else 0, np.int64)
    for position, group in enumerate(group_index):
        round_of[position] = seen[group]
        seen[group] += 1
    return order[np.lexsort((np.arange(len(order)), round_of))]


def typicality(features: np.ndarray, members: np.ndarray, neighbors: int = 20) -> np.ndarray:
    """TypiClust's density of each member within its cluster: the inverse of the mean Euclidean distance to its
    ``neighbors`` nearest other members (a lone member gets 0)."""
    X = np.asarray(features[members], np.float64)
    k = min(neighbors, len(members) - 1)
    if k < 1:
        return np.zeros(len(members))
    squared = np.einsum("ij,ij->i", X, X)
    distances = np.sqrt(np.maximum(squared[:, None] - 2 * X @ X.T + squared[None, :], 0))
    np.fill_diagonal(distances, np.inf)
    nearest = np.partition(distances, k - 1, axis=1)[:, :k]
    return 1.0 / (nearest.mean(axis=1) + 1e-12)


def typical_order(
    features: np.ndarray, count: int, *, seed: int = 0, neighbors: int = 20, max_clusters: int = 500
) -> np.ndarray:
    """TypiClust's preference order: ``min(count, max_clusters)`` k-means clusters; round r takes the r-th most
    typical image of every cluster, largest clusters first."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    X = np.asarray(features, np.float32)
    k = int(max(1, min(count, max_clusters, len(X))))
    estimator = KMeans if k <= 50 else MiniBatchKMeans  # the paper's choice
    labels = estimator(n_clusters=k, random_state=seed, n_init=3).fit_predict(X)
    sizes = np.bincount(labels, minlength=k)
    rank_in_cluster = np.zeros(len(X), np.int64)
    for cluster in range(k):
        members = np.flatnonzero(labels == cluster)
        if len(members):
            by_density = members[np.argsort(-typicality(X, members, neighbors), kind="stable")]
            rank_in_cluster[by_density] = np.arange(len(members))
    return np.lexsort((np.arange(len(X)), -sizes[labels], rank_in_cluster))


def ball_graph(features: np.ndarray, delta: float):
    """Sparse boolean CSR matrix: ``[i, j]`` when unit rows ``i`` and ``j`` lie within Euclidean ``delta``."""
    from scipy.sparse import csr_matrix

    X = np.ascontiguousarray(features, np.float32)
    cutoff = 1.0 - delta**2 / 2  # |x - y|^2 = 2 - 2 x.y for unit rows
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(X), _BLOCK):
        i, j = np.nonzero(X[start : start + _BLOCK] @ X.T >= cutoff - 1e-6)
        rows.append(i.astype(np.int64) + start)
        cols.append(j.astype(np.int64))
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    n = len(X)
    return csr_matrix((np.ones(len(rows_all), bool), (rows_all, cols_all)), shape=(n, n))


def probcover_order(
    features: np.ndarray, delta: float, *, seed: int = 0, covered: np.ndarray | None = None
) -> np.ndarray:
    """ProbCover's preference order: greedy maximum coverage with balls of radius ``delta`` (each pick covers the
    most uncovered images; ties by index); once everything is covered, the rest in a seeded random order.
    ``covered``: images already covered (by a labelled set's balls)."""
    graph = ball_graph(features, delta)
    n = graph.shape[0]
    covered = np.zeros(n, bool) if covered is None else np.asarray(covered, bool).copy()
    gain = np.asarray(graph[:, ~covered].sum(axis=1)).ravel().astype(np.int64)  # uncovered images in each ball
    picked = np.zeros(n, bool)
    order: list[int] = []
    while not covered.all():
        pick = int(np.argmax(np.where(picked, -1, gain)))
        order.append(pick)
        picked[pick] = True
        newly = graph.indices[graph.indptr[pick] : graph.indptr[pick + 1]]
        newly = newly[~covered[newly]]
        covered[newly] = True
        if len(newly):  # every ball holding a newly covered image has one uncovered image fewer
            gain -= np.asarray(graph[newly].sum(axis=0)).ravel().astype(np.int64)
    rest = np.flatnonzero(~picked)
    return np.r_[np.array(order, np.int64), np.random.default_rng(seed).permutation(rest)]


def purity_delta(
    features: np.ndarray, labels: np.ndarray, *, purity: float = 0.95, grid: np.ndarray | None = None
) -> float:
    """ProbCover's radius: the largest ``delta`` on ``grid`` for which at least ``purity`` of the balls hold images
    of one cluster only (``labels``: a k-means clustering with about as many clusters as classes)."""
    grid = np.sort(np.linspace(0.05, 1.0, 20) if grid is None else np.asarray(grid, np.float64))
    labels = np.asarray(labels)
    best = None
    for delta in grid:
        graph = ball_graph(features, float(delta)).tocoo()
        impure = np.zeros(graph.shape[0], bool)
        impure[graph.row[labels[graph.row] != labels[graph.col]]] = True
        if 1.0 - impure.mean() < purity:
            break
        best = float(delta)
    if best is None:  # even the smallest radius mixes clusters: take it, and say so
        log.warning(
            "probcover: no radius on the grid keeps %.0f%% of the balls within one cluster; using the smallest, "
            "%.3f (set the radius with probcover_delta to choose another)",
            100 * purity,
            grid[0],
        )
        best = float(grid[0])
    return best


def ccs_order(scores: np.ndarray, count: int, *, beta: float = 0.1, strata: int = 50, seed: int = 0) -> np.ndarray:
    """CCS's selection of ``count`` images first (see the module docstring), then every other image: the dropped
    hardest ``beta`` share last, hardest at the end."""
    scores = np.asarray(scores, np.float64)
    n = len(scores)
    rng = np.random.default_rng(seed)
    hardest_first = np.argsort(-scores, kind="stable")
    cut = int(np.floor(beta * n)) if n - int(np.floor(beta * n)) >= count else n - count
    pool = hardest_first[cut:]
    edges = np.linspace(scores[pool].min(), scores[pool].max(), strata + 1) if len(pool) else np.zeros(2)
    stratum = np.clip(np.searchsorted(edges, scores[pool], side="right") - 1, 0, strata - 1)
    members = [pool[stratum == s] for s in range(strata)]
    members = sorted((m for m in members if len(m)), key=len)
    chosen, budget = [], min(count, len(pool))
    for position, group in enumerate(members):
        share = min(len(group), budget // (len(members) - position))
        chosen.append(rng.choice(group, share, replace=False))
        budget -= share
    chosen_all = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    rest = np.setdiff1d(pool, chosen_all)
    return np.r_[chosen_all, rng.permutation(rest), hardest_first[:cut][::-1]].astype(np.int64)


def zcore_scores(
    features: np.ndarray,
    *,
    samples: int | None = None,
    sample_dim: int = 2,
    redundancy_neighbors: int = 1000,
    redundancy_exponent: float = 4.0,
    seed: int = 0,
    batch: int = 256,
) -> np.ndarray:
    """ZCore's coverage-minus-redundancy score of every image (see the module docstring), scaled to [0, 1].

    ``samples`` defaults to ``min(1e6, 20 n)``. Draws are vectorised in batches that share one random slice of
    dimensions (the reference draws a slice per point; over many batches the slices are spread the same way).
    """
    X = np.asarray(features, np.float32)
    n, dim = X.shape
    samples = int(min(1_000_000, 20 * n) if samples is None else samples)
    rng = np.random.default_rng(seed)
    low, mid, high = X.min(axis=0), np.median(X, axis=0), X.max(axis=0)
    scores = np.zeros(n, np.float64)
    neighbors = int(min(redundancy_neighbors, n - 1))
    batch = max(1, min(batch, (1 << 24) // max(1, n * sample_dim)))  # bound the [batch, n, dims] blocks
    for start in range(0, samples, batch):
        size = min(batch, samples - start)
        dims = rng.choice(dim, min(sample_dim, dim), replace=False)
        span = X[:, dims]
        top = high[dims] + 1e-9  # a constant dimension still has a (tiny) range to draw from
        draws = rng.triangular(low[dims], np.clip(mid[dims], low[dims], top), top, (size, len(dims)))
        nearest = np.abs(span[None, :, :] - draws[:, None, :]).sum(axis=2).argmin(axis=1)
        np.add.at(scores, nearest, 1.0)
        if neighbors < 1:
            continue
        distance = np.abs(span[None, :, :] - span[nearest][:, None, :]).sum(axis=2)
        distance[np.arange(size), nearest] = np.inf  # not its own neighbour
        close = np.argpartition(distance, neighbors - 1, axis=1)[:, :neighbors]
        d = np.take_along_axis(distance, close, axis=1).astype(np.float64)
        np.subtract.at(scores, close.ravel(), _redundancy_weights(d, redundancy_exponent).ravel())
    low_score = scores.min()
    return (scores - low_score) / max(scores.max() - low_score, 1e-12)


def _redundancy_weights(distance: np.ndarray, exponent: float) -> np.ndarray:
    """Each row's penalty over its nearest images: all of it on one exact duplicate where there is one, otherwise
    spread in proportion to ``1 / distance ** exponent``; every row sums to 1."""
    weight = np.zeros_like(distance)
    duplicate = distance.min(axis=1) == 0
    first = np.argmax(distance == 0, axis=1)
    weight[np.flatnonzero(duplicate), first[duplicate]] = 1.0
    rest = ~duplicate
    with np.errstate(over="ignore"):
        inverse = 1.0 / distance[rest] ** exponent
    inverse = np.nan_to_num(inverse, posinf=np.finfo(np.float64).max / distance.shape[1])
    weight[rest] = inverse / inverse.sum(axis=1, keepdims=True)
    return weight
