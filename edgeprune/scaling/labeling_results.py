"""Summaries of a simulated labelling loop: AP50 per strategy and round over seeds, each strategy against random
paired by seed, the verdict and the plot.

The verdict is in AP50 points: in some round, the combined strategy (diversity x uncertainty) must beat random
selection at the same label budget by >= 2 points, over >= 3 seeds and by more than two standard errors of the
per-seed difference.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from .results import format_spread, paired_power, power_markdown, seed_paired_difference, write_documents

CSV_FIELDS = ("cell", "strategy", "round", "seed", "images", "mAP", "mAP50", "select_seconds", "train_seconds")
START = "start"


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and sample standard deviation of mAP / mAP50 per (strategy, round) over seeds, with the per-seed
    values."""
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["strategy"], row["round"])].append(row)
    out = []
    for (strategy, round_), members in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        entry = {"strategy": strategy, "round": round_, "seeds": len(members)}
        entry["images"] = float(np.mean([m["images"] for m in members]))
        for metric in ("mAP", "mAP50"):
            values = np.array([m[metric] for m in members], np.float64)
            entry[metric] = float(values.mean())
            entry[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            entry[f"{metric}_by_seed"] = {str(m["seed"]): float(m[metric]) for m in members}
        out.append(entry)
    return out


def comparisons(summary: list[dict], metric: str = "mAP50") -> list[dict]:
    """Every strategy against random in the same round: the difference and its standard error (paired by seed)."""
    out = []
    for entry, random in strategy_random_pairs(summary):
        gain, error = seed_paired_difference(entry, random, metric)
        seeds = len(set(entry[f"{metric}_by_seed"]) & set(random[f"{metric}_by_seed"]))
        out.append({"strategy": entry["strategy"], "round": entry["round"], "images": entry["images"],
                    "gain": gain, "error": error, "seeds": seeds})  # fmt: skip
    return out


def strategy_random_pairs(summary: list[dict]) -> list[tuple[dict, dict]]:
    """Every strategy against random in the same round."""
    randoms = {s["round"]: s for s in summary if s["strategy"] == "random"}
    return [
        (s, randoms[s["round"]]) for s in summary if s["strategy"] not in (START, "random") and s["round"] in randoms
    ]


def verdict(
    summary: list[dict], *, strategy: str = "combined", metric: str = "mAP50", margin: float = 2.0, min_seeds: int = 3
) -> dict:
    """Whether ``strategy`` beats random by >= ``margin`` points, > 2 standard errors, >= ``min_seeds`` paired
    seeds, in some round; ``met`` is None while no round has both."""
    found = [c for c in comparisons(summary, metric) if c["strategy"] == strategy]
    if not found:
        return {"met": None, "text": f"need random and {strategy} cells of the same round"}

    def beats(c: dict) -> bool:
        return c["seeds"] >= min_seeds and c["gain"] >= margin and c["gain"] > 2 * c["error"]

    best = max(found, key=lambda c: (beats(c), c["gain"] - 2 * c["error"]))
    lines = [
        f"round {c['round']} ({c['images']:.0f} labelled images): {c['gain']:+.1f} ± {c['error']:.1f} "
        f"({c['seeds']} seeds)"
        for c in found
    ]
    met = beats(best)
    text = (
        f"{strategy} minus random, AP50 points (standard error of the per-seed difference): " + "; ".join(lines)
        + f". Target ({strategy} >= +{margin:g} AP50 over random at an equal budget, > 2 standard errors, >= "
        f"{min_seeds} seeds): {'met in round ' + str(best['round']) if met else 'not met'}."
    )  # fmt: skip
    return {"met": met, "round": best["round"], "gain": best["gain"], "standard_error": best["error"], "text": text}


def plot_png(summary: list[dict], *, steps: int, title: str, metric: str = "mAP50") -> bytes:
    """AP50 against labelled images, one line per strategy from the shared start set, error bars over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.6))
    start = next((s for s in summary if s["strategy"] == START), None)
    strategies = sorted({s["strategy"] for s in summary} - {START})
    for number, strategy in enumerate(strategies):
        points = sorted((s for s in summary if s["strategy"] == strategy), key=lambda s: s["round"])
        if start is not None:
            points = [start, *points]
        nudge = 1.0 + 0.012 * (number - (len(strategies) - 1) / 2)  # error bars side by side
        ax.errorbar([p["images"] * nudge for p in points], [p[metric] for p in points],
                    yerr=[p[f"{metric}_std"] for p in points], marker="o", capsize=3, label=strategy,
                    linestyle="--" if strategy == "random" else "-")  # fmt: skip
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("AP50 on val (%)")
    ax.set_title(f"{title}\nsame budget for every run: {steps} steps; mean ± std over seeds")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def table(summary: list[dict]) -> str:
    """A Markdown table: AP50 and mAP per strategy and round, with the per-seed AP50."""
    lines = [
        "| round | strategy | labelled images | seeds | AP50 | mAP | AP50 by seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        by_seed = ", ".join(f"{v:.1f}" for _, v in sorted(s["mAP50_by_seed"].items()))
        lines.append(
            f"| {s['round']} | {s['strategy']} | {s['images']:.0f} | {s['seeds']} | {format_spread(s, 'mAP50')} | "
            f"{format_spread(s)} | {by_seed} |"
        )
    return "\n".join(lines)


def markdown(document: dict, *, title: str) -> str:
    """The text report: the protocol, the table, every strategy against random, and the verdict."""
    settings = document["settings"]
    batch = f"{settings['batch']} images" if settings["batch"] else "as many images as the start set holds"
    lines = [
        f"# {title}\n",
        f"Each seed starts from a random labelled set ({settings['start']:.2%} of TRAIN) that every strategy shares. "
        f"Every round each strategy adds {batch} to its own labelled set; the detector is retrained for "
        f"{settings['steps']} steps and scored on VAL. Mean ± sample standard deviation over seeds.\n",
        table(document["summary"]),
        "\n## Against random, paired by seed\n",
        "| round | strategy | labelled images | AP50 minus random | seeds |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['round']} | {c['strategy']} | {c['images']:.0f} | {c['gain']:+.1f} ± {c['error']:.1f} | {c['seeds']} |"
        for c in document["comparisons"]
    ]
    lines.append(f"\n**Verdict.** {document['verdict']['text']}\n")
    lines.append(power_markdown(document.get("power"), compared="each strategy and random in the same round"))
    return "\n".join(lines)


def write_labeling_results(out: Path, rows: list[dict], settings: dict, *, title: str) -> dict:
    """Write ``labeling.json``, ``.csv``, ``.md`` and ``.png`` (each atomically); returns the json document."""
    summary = summarize(rows)
    document = {
        "settings": settings,
        "cells": sorted(rows, key=lambda r: (r["round"], r["strategy"], r["seed"])),
        "summary": summary,
        "comparisons": comparisons(summary),
        "verdict": verdict(summary),
        "power": paired_power(strategy_random_pairs(summary)),
    }
    png = plot_png(summary, steps=settings["steps"], title=title) if rows else None
    write_documents(out / "labeling", document, CSV_FIELDS, png, markdown(document, title=title))
    return document
