"""Summaries of a scaling experiment: the per-cell table, means and spreads over seeds, the verdict, the plot.

The verdict tests the issue's target at the fraction nearest 50%: the best curated policy (mean over seeds) must
beat random by at least ``margin`` mAP points and reach ``1 - tolerance`` of the full-data mAP.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..atomic import atomic_file
from .plan import FULL

CSV_FIELDS = ("cell", "level", "policy", "fraction", "seed", "images", "boxes", "mAP", "mAP50", "train_seconds")


def aggregate_rows(rows: list[dict]) -> list[dict]:
    """Mean and sample standard deviation of mAP / mAP50 per (series, fraction), over seeds."""
    groups: dict[tuple[str, str, str, float], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["level"], row["policy"], f"{row['policy']} ({row['level']})", row["fraction"])].append(row)
    out = []
    for (level, policy, series, fraction), members in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][3])):
        entry = {"series": FULL if policy == FULL else series, "level": level, "policy": policy, "fraction": fraction}
        for metric in ("mAP", "mAP50"):
            values = np.array([m[metric] for m in members], np.float64)
            entry[metric] = float(values.mean())
            entry[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        entry["seeds"] = len(members)
        entry["images"] = float(np.mean([m["images"] for m in members]))
        out.append(entry)
    return out


def _spread(entry: dict, metric: str = "mAP") -> str:
    """``"49.5 ± 0.7"`` over several seeds, ``"49.5"`` for one."""
    value = f"{entry[metric]:.1f}"
    return value if entry["seeds"] < 2 else f"{value} ± {entry[metric + '_std']:.1f}"


def verdict(summary: list[dict], *, target: float = 0.5, margin: float = 2.0, tolerance: float = 0.05) -> dict:
    """The target check at the pruned fraction nearest ``target``; ``met`` is None when a needed line is missing."""
    pruned = sorted({s["fraction"] for s in summary if s["policy"] != FULL})
    full = next((s for s in summary if s["policy"] == FULL), None)
    if not pruned:
        return {"met": None, "text": "no pruned cells finished yet"}
    fraction = min(pruned, key=lambda f: (abs(f - target), f))
    at = [s for s in summary if s["fraction"] == fraction and s["policy"] != FULL]
    random = [s for s in at if s["policy"] == "random"]
    curated = [s for s in at if s["policy"] != "random"]
    if not random or not curated or full is None:
        return {"met": None, "fraction": fraction, "text": "need random, a curated policy and full-data cells"}
    best = max(curated, key=lambda s: s["mAP"])
    base = max(random, key=lambda s: s["mAP"])
    gain = best["mAP"] - base["mAP"]
    share = best["mAP"] / full["mAP"] if full["mAP"] else float("nan")
    met = bool(gain >= margin and share >= 1 - tolerance)
    text = (
        f"At {fraction:.0%} kept, the best curated policy is {best['series']}: mAP {_spread(best)} "
        f"({best['seeds']} seed{'s' if best['seeds'] > 1 else ''}), {gain:+.1f} points against random "
        f"({_spread(base)}) and {share:.1%} of the full-data mAP ({_spread(full)}). "
        f"Target (>= +{margin:g} points over random and >= {1 - tolerance:.0%} of full): "
        f"{'met' if met else 'not met'}."
    )
    ranking = sorted(at, key=lambda s: -s["mAP"])
    text += " Ranking there: " + ", ".join(f"{s['series']} {s['mAP']:.1f}" for s in ranking) + "."
    return {
        "met": met,
        "fraction": fraction,
        "best": best["series"],
        "gain_over_random": gain,
        "share_of_full": share,
        "text": text,
    }


def plot_png(summary: list[dict], *, steps: int, title: str) -> bytes:
    """mAP against kept fraction, one line per series with error bars over seeds, and the full-data line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    full = next((s for s in summary if s["policy"] == FULL), None)
    series = sorted({s["series"] for s in summary if s["policy"] != FULL})
    for number, name in enumerate(series):
        points = sorted((s for s in summary if s["series"] == name), key=lambda s: s["fraction"])
        nudge = 0.006 * (number - (len(series) - 1) / 2)  # side by side, so error bars at one fraction stay apart
        xs = [p["fraction"] + nudge for p in points]
        ys = [p["mAP"] for p in points]
        if full is not None:  # every curve ends at the full-data point
            xs, ys = xs + [1.0], ys + [full["mAP"]]
        errors = [p["mAP_std"] for p in points] + ([full["mAP_std"]] if full is not None else [])
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=name, linestyle="--" if "random" in name else "-")
    if full is not None:
        ax.axhline(full["mAP"], color="black", linewidth=1, linestyle=":", label=f"full data ({full['mAP']:.1f})")
    ax.set_xlabel("kept fraction of the training set")
    ax.set_ylabel("COCO mAP on val (%)")
    ax.set_title(f"{title}\nsame budget for every run: {steps} steps")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_results(out: Path, rows: list[dict], settings: dict, *, title: str) -> dict:
    """Write ``scaling.json``, ``scaling.csv`` and ``scaling.png`` (each atomically); returns the json document."""
    summary = aggregate_rows(rows)
    document = {"settings": settings, "cells": rows, "summary": summary, "verdict": verdict(summary)}
    _atomic_write(out / "scaling.json", json.dumps(document, indent=2).encode())
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(out / "scaling.csv", text.getvalue().encode())
    if rows:
        _atomic_write(out / "scaling.png", plot_png(summary, steps=settings["steps"], title=title))
    _atomic_write(out / "scaling.md", markdown(document, title=title).encode())
    return document


def markdown(document: dict, *, title: str) -> str:
    """The short text report: the budget rule, the table and the verdict."""
    steps = document["settings"]["steps"]
    return (
        f"# {title}\n\nEvery cell trains the same detector for the same number of steps ({steps}), not the same "
        "number of epochs: a smaller subset is seen more often. mAP is COCO mAP@[.5:.95] on the validation set, "
        "mean ± sample standard deviation over seeds.\n\n"
        f"{table(document['summary'])}\n\n**Verdict.** {document['verdict']['text']}\n"
    )


def table(summary: list[dict]) -> str:
    """A Markdown table of the summary (mean +/- std over seeds)."""
    lines = ["| series | kept | images | seeds | mAP | mAP50 |", "|---|---|---|---|---|---|"]
    for s in sorted(summary, key=lambda s: (s["fraction"], s["series"])):
        lines.append(
            f"| {s['series']} | {s['fraction']:.0%} | {s['images']:.0f} | {s['seeds']} | "
            f"{_spread(s)} | {_spread(s, 'mAP50')} |"
        )
    return "\n".join(lines)
