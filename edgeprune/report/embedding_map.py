"""A picture of the embedding space: PCA to 50 dimensions, then t-SNE (scikit-learn) to 2, coloured by cluster,
kept images filled and dropped ones as crosses, near-duplicates linked to the image they duplicate.

Above ``max_points`` images (``curate --map-points``, default 5,000) a seeded random subsample is drawn: t-SNE is
O(N log N) per iteration, and on 2 CPU cores 5,000 points take about 40 s, 20,000 several minutes. Marker sizes
shrink with the count, so the map of a 100k-image dataset stays readable.
"""

from __future__ import annotations

import logging

import numpy as np

from . import plots

log = logging.getLogger(__name__)
MAX_POINTS = 5_000


def project(features: np.ndarray, *, max_points: int = MAX_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, xy)``: the (sub)sampled rows, ascending, and their 2-D t-SNE coordinates."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = len(features)
    rng = np.random.default_rng(seed)
    indices = np.sort(rng.choice(n, size=max_points, replace=False)) if n > max_points else np.arange(n)
    X = np.asarray(features, np.float32)[indices]
    if len(indices) < 5:  # too few for t-SNE; the first two principal axes (or the raw values) instead
        xy = np.zeros((len(indices), 2), np.float32)
        if len(indices) > 1 and X.shape[1]:
            reduced = PCA(n_components=min(2, len(indices), X.shape[1])).fit_transform(X)
            xy[:, : reduced.shape[1]] = reduced
        return indices, xy
    components = min(50, X.shape[1], len(indices))
    reduced = PCA(n_components=components, random_state=seed).fit_transform(X) if X.shape[1] > components else X
    perplexity = float(min(30.0, (len(indices) - 1) / 3))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    return indices, xy.astype(np.float32)


def embedding_map_png(
    features: np.ndarray,
    labels: np.ndarray,
    kept: np.ndarray,
    *,
    links: list[tuple[int, int]] = (),
    max_points: int = MAX_POINTS,
    seed: int = 0,
    title: str = "Embedding map (PCA 50 + t-SNE)",
    marks: tuple[str, str] = ("kept", "dropped"),
    colour: str = "cluster",
) -> bytes:
    """The map as PNG bytes; ``links`` are (image, image) pairs to join (duplicates, leaks); ``marks`` name the
    ``kept`` (o) and other (x) points in the legend, ``colour`` what ``labels`` are."""
    import matplotlib.pyplot as plt

    indices, xy = project(features, max_points=max_points, seed=seed)
    labels, kept = np.asarray(labels)[indices], np.asarray(kept, bool)[indices]
    where = {int(i): row for row, i in enumerate(indices)}
    n = len(indices)
    size = float(np.clip(24.0 / np.sqrt(max(n, 1) / 500.0), 0.5, 24.0))
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    for a, b in links:
        if a in where and b in where:
            p, q = xy[where[a]], xy[where[b]]
            ax.plot([p[0], q[0]], [p[1], q[1]], color="black", linewidth=0.6, alpha=0.6, zorder=1)
    colors = plt.get_cmap("tab20")(np.mod(labels, 20))
    ax.scatter(xy[kept, 0], xy[kept, 1], s=size, c=colors[kept], marker="o", linewidths=0, zorder=2)
    ax.scatter(xy[~kept, 0], xy[~kept, 1], s=size, c=colors[~kept], marker="x", linewidths=0.6, alpha=0.5, zorder=2)
    ax.scatter([], [], s=20, c="grey", marker="o", label=f"{marks[0]} ({int(kept.sum())})")
    ax.scatter([], [], s=20, c="grey", marker="x", label=f"{marks[1]} ({int((~kept).sum())})")
    if links:
        ax.plot([], [], color="black", linewidth=0.6, label=f"near-duplicate links ({len(links)})")
    shown = f"{n} of {len(features)} images (random subsample)" if n < len(features) else f"{n} images"
    ax.set_title(f"{title}\n{shown}; colour = {colour}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(frameon=False, fontsize=8, loc="best")
    return plots.figure_png(fig)
