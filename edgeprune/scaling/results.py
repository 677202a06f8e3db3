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
from .plan import FULL, base_policy

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


def _difference(best: dict, base: dict) -> tuple[float, float]:
    """Mean difference in mAP and its standard error, sqrt(s1^2/n1 + s2^2/n2) (0 with a single seed)."""
    gain = best["mAP"] - base["mAP"]
    error = float(np.sqrt(best["mAP_std"] ** 2 / best["seeds"] + base["mAP_std"] ** 2 / base["seeds"]))
    return gain, error


def _comparison(summary: list[dict], fraction: float) -> dict | None:
    """Best curated policy against the best random series at ``fraction``; None without both."""
    at = [s for s in summary if s["fraction"] == fraction and s["policy"] != FULL]
    random = [s for s in at if base_policy(s["policy"])[0] == "random"]
    curated = [s for s in at if base_policy(s["policy"])[0] != "random"]
    if not random or not curated:
        return None
    best = max(curated, key=lambda s: s["mAP"])
    base = max(random, key=lambda s: s["mAP"])
    gain, error = _difference(best, base)
    return {"fraction": fraction, "best": best, "random": base, "gain": gain, "error": error}


def verdict(
    summary: list[dict], *, largest: float = 0.5, margin: float = 2.0, tolerance: float = 0.05, min_seeds: int = 3
) -> dict:
    """The target check; ``met`` is None while a needed line is missing.

    1. At some pruned fraction <= ``largest``, the best curated policy beats the best random series by >= ``margin``
       mAP points (means over >= ``min_seeds`` seeds), and by more than twice the standard error of the difference.
    2. At the pruned fraction nearest ``largest``, the best policy reaches >= ``1 - tolerance`` of full-data mAP.
    """
    pruned = sorted({s["fraction"] for s in summary if s["policy"] != FULL and s["fraction"] <= largest})
    full = next((s for s in summary if s["policy"] == FULL), None)
    comparisons = [c for c in (_comparison(summary, f) for f in pruned) if c is not None]
    if not comparisons or full is None:
        return {"met": None, "text": "need random, a curated policy and full-data cells at a fraction <= 50%"}

    def beats(c: dict) -> bool:
        enough = min(c["best"]["seeds"], c["random"]["seeds"]) >= min_seeds
        return enough and c["gain"] >= margin and c["gain"] > 2 * c["error"]

    winner = max(comparisons, key=lambda c: (beats(c), c["gain"] - 2 * c["error"]))
    top = max(pruned)
    at_top = [s for s in summary if s["fraction"] == top and s["policy"] != FULL]
    best_top = max(at_top, key=lambda s: s["mAP"])
    share = best_top["mAP"] / full["mAP"] if full["mAP"] else float("nan")
    first, second = beats(winner), bool(share >= 1 - tolerance)
    at_fraction = f" at {winner['fraction']:.0%}" if first else ""
    lines = []
    for c in comparisons:
        lines.append(
            f"at {c['fraction']:.0%}: best curated {c['best']['series']} {_spread(c['best'])} vs random "
            f"{_spread(c['random'])}, difference {c['gain']:+.1f} ± {c['error']:.1f} (standard error)"
        )
    text = (
        "; ".join(lines)
        + f". At {top:.0%} the best policy, {best_top['series']} ({best_top['mAP']:.1f}), reaches {share:.1%} of the "
        f"full-data mAP ({_spread(full)}). Target 1 (a curated policy >= +{margin:g} points over random at some "
        f"fraction <= {largest:.0%}, > 2 standard errors, >= {min_seeds} seeds): {'met' if first else 'not met'}"
        f"{at_fraction}. "
        f"Target 2 (>= {1 - tolerance:.0%} of full data at {top:.0%}): {'met' if second else 'not met'}."
    )
    return {
        "met": first and second,
        "fraction": winner["fraction"],
        "best": winner["best"]["series"],
        "gain_over_random": winner["gain"],
        "standard_error": winner["error"],
        "share_of_full": share,
        "text": text,
    }


def rare_class_table(rows: list[dict], rare: list[str], fraction: float | None = None) -> dict:
    """Mean per-class AP of ``rare`` classes per series at ``fraction`` (default: the smallest pruned one)."""
    pruned = sorted({r["fraction"] for r in rows if r["policy"] != FULL and r.get("per_class")})
    if not rare or not pruned:
        return {}
    fraction = pruned[0] if fraction is None else fraction
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("per_class") and (row["fraction"] == fraction or row["policy"] == FULL):
            groups[FULL if row["policy"] == FULL else f"{row['policy']} ({row['level']})"].append(row["per_class"])
    return {
        "fraction": fraction,
        "classes": rare,
        "series": {
            series: {c: float(np.mean([m.get(c, 0.0) for m in members])) for c in rare}
            for series, members in sorted(groups.items())
        },
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


def write_results(out: Path, rows: list[dict], settings: dict, *, title: str, rare: list[str] = ()) -> dict:
    """Write ``scaling.json``, ``.csv``, ``.md`` and ``.png`` (each atomically); returns the json document.

    ``rare`` names the rarest classes of the training set, whose per-class AP the report lists at the smallest
    kept fraction.
    """
    summary = aggregate_rows(rows)
    document = {
        "settings": settings,
        "cells": rows,
        "summary": summary,
        "verdict": verdict(summary),
        "rare_classes": rare_class_table(rows, list(rare)),
    }
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
        + rare_markdown(document.get("rare_classes") or {})
    )


def rare_markdown(rare: dict) -> str:
    """The per-class AP table of the rarest classes, or nothing."""
    if not rare:
        return ""
    classes = rare["classes"]
    lines = [
        f"\n## Rarest classes at {rare['fraction']:.0%} kept\n",
        "COCO AP (%) per class, mean over seeds; the classes with the fewest training boxes.\n",
        "| series | " + " | ".join(classes) + " | mean |",
        "|---|" + "---|" * (len(classes) + 1),
    ]
    for series, values in rare["series"].items():
        cells = " | ".join(f"{values[c]:.1f}" for c in classes)
        lines.append(f"| {series} | {cells} | {np.mean(list(values.values())):.1f} |")
    return "\n".join(lines) + "\n"


def table(summary: list[dict]) -> str:
    """A Markdown table of the summary (mean +/- std over seeds)."""
    lines = ["| series | kept | images | seeds | mAP | mAP50 |", "|---|---|---|---|---|---|"]
    for s in sorted(summary, key=lambda s: (s["fraction"], s["series"])):
        lines.append(
            f"| {s['series']} | {s['fraction']:.0%} | {s['images']:.0f} | {s['seeds']} | "
            f"{_spread(s)} | {_spread(s, 'mAP50')} |"
        )
    return "\n".join(lines)
