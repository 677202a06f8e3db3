"""Matplotlib figures for the report, returned as PNG bytes (Agg backend, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

KEPT_COLOR = "#2a9d4b"
DROPPED_COLOR = "#d1495b"


def figure_png(fig) -> bytes:
    """Render ``fig`` to PNG bytes and close it."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=96)
    plt.close(fig)
    return buffer.getvalue()


def distance_histogram(distances: np.ndarray, kept: np.ndarray, cut: float | None, cut_label: str) -> bytes:
    """Stacked histogram of distance-to-prototype for kept and dropped images, with the cut marked."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bins = np.histogram_bin_edges(distances, bins=min(50, max(10, len(distances) // 10)))
    ax.hist(
        [distances[kept], distances[~kept]],
        bins=bins,
        stacked=True,
        color=[KEPT_COLOR, DROPPED_COLOR],
        label=[f"kept ({kept.sum()})", f"dropped ({(~kept).sum()})"],
    )
    if cut is not None:
        ax.axvline(cut, color="black", linestyle="--", linewidth=1.2, label=cut_label)
    ax.set_xlabel("distance to nearest prototype")
    ax.set_ylabel("images")
    ax.legend(frameon=False)
    return figure_png(fig)


def grouped_bars(names: list[str], before: list[int], after: list[int], *, ylabel: str, title: str) -> bytes:
    """Side-by-side bars of counts before and after pruning."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(names) + 2), 3.2))
    x = np.arange(len(names))
    ax.bar(x - 0.2, before, 0.4, label="before", color="#8d99ae")
    ax.bar(x + 0.2, after, 0.4, label="after", color=KEPT_COLOR)
    ax.set_xticks(x, names, rotation=45 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    return figure_png(fig)


def similarity_histogram(similarities: dict[str, np.ndarray], threshold: float) -> bytes:
    """Histogram of each checked split's nearest-earlier cosine similarity, with the leak threshold marked."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    values = [v for v in similarities.values() if len(v)]
    low = min([float(v.min()) for v in values] + [threshold - 0.05])
    bins = np.linspace(low, 1.0, 60)
    for name, value in similarities.items():
        ax.hist(value, bins=bins, histtype="stepfilled", alpha=0.5, label=f"{name} ({len(value)} images)")
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("cosine similarity to the nearest image of an earlier split")
    ax.set_ylabel("images")
    ax.legend(frameon=False, fontsize=8)
    return figure_png(fig)
