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


def _stacked_histogram(values, chosen, marks: tuple[str, str], xlabel: str, height: float):
    """Stacked histogram of ``values`` for the ``chosen`` and the other rows; returns ``(fig, ax)``."""
    values, chosen = np.asarray(values, np.float64), np.asarray(chosen, bool)
    fig, ax = plt.subplots(figsize=(7, height))
    bins = np.histogram_bin_edges(values, bins=min(50, max(10, len(values) // 10)))
    ax.hist(
        [values[chosen], values[~chosen]],
        bins=bins,
        stacked=True,
        color=[KEPT_COLOR, DROPPED_COLOR],
        label=[f"{marks[0]} ({chosen.sum()})", f"{marks[1]} ({(~chosen).sum()})"],
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    return fig, ax


def distance_histogram(distances: np.ndarray, kept: np.ndarray, cut: float | None, cut_label: str) -> bytes:
    """Stacked histogram of distance-to-prototype for kept and dropped images, with the cut marked."""
    fig, ax = _stacked_histogram(distances, kept, ("kept", "dropped"), "distance to nearest prototype", 3.2)
    if cut is not None:
        ax.axvline(cut, color="black", linestyle="--", linewidth=1.2, label=cut_label)
    ax.legend(frameon=False)
    return figure_png(fig)


def score_histogram(values: np.ndarray, chosen: np.ndarray, *, xlabel: str, marks=("picked", "not picked")) -> bytes:
    """Stacked histogram of one score for the chosen and the other images."""
    fig, ax = _stacked_histogram(values, chosen, marks, xlabel, 3.0)
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


def category_bars(names: list[str], before: list[int], after: list[int], *, unit: str = "boxes") -> bytes:
    """Horizontal bars of each category's count before (grey) and after (green) pruning, the kept share written at
    the end of each bar, sorted so the most-pruned categories come first; readable at 5 and at 100 classes (the
    figure grows by one row per category, its width stays that of the page)."""
    share = [a / b if b else 1.0 for a, b in zip(after, before)]
    order = sorted(range(len(names)), key=lambda i: (share[i], -before[i]))
    rows = len(names)
    fig, ax = plt.subplots(figsize=(7.5, max(1.6, 0.22 * rows + 0.9)))
    y = np.arange(rows)
    ax.barh(y, [before[i] for i in order], 0.8, color="#c9ced6", label="before")
    ax.barh(y, [after[i] for i in order], 0.5, color=KEPT_COLOR, label="after")
    top = max(before) if before else 1
    for row, i in enumerate(order):
        ax.text(before[i] + 0.01 * top, row, f"{share[i]:.0%}", va="center", fontsize=7)
    ax.set_yticks(y, [names[i] for i in order], fontsize=8 if rows <= 40 else 6)
    ax.set_ylim(rows - 0.5, -0.5)  # most pruned on top
    ax.set_xlim(0, top * 1.12)
    ax.set_xlabel(unit)
    ax.set_title(f"{unit.capitalize()} per category, before and after (kept share at the bar's end)", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return figure_png(fig)
