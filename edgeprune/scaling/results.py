"""Summaries of a scaling experiment: the per-cell table, means and spreads over seeds, the regime check, the
fitted scaling exponents, the verdict and the plots.

The verdict is in AP50 points: at some kept fraction <= 25% the best curated policy must beat the best random
series by >= 2 points (>= 3 seeds, more than two standard errors of the difference), and at the largest pruned
fraction of the grid the best policy must be within 2 points of full data. The regime check comes first: without a
full-data detector well above noise and random subsets that clearly lose to it, no policy can beat random.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..atomic import atomic_file
from .plan import FULL, is_baseline

CSV_FIELDS = (
    "cell",
    "level",
    "policy",
    "fraction",
    "seed",
    "images",
    "boxes",
    "mAP",
    "mAP50",
    "train_seconds",
    "cell_seconds",
)


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
            entry[f"{metric}_by_seed"] = {str(m["seed"]): float(m[metric]) for m in members}
        entry["seeds"] = len(members)
        entry["images"] = float(np.mean([m["images"] for m in members]))
        out.append(entry)
    return out


def format_spread(entry: dict, metric: str = "mAP") -> str:
    """``"49.5 ± 0.7"`` over several seeds, ``"49.5"`` for one."""
    value = f"{entry[metric]:.1f}"
    return value if entry["seeds"] < 2 else f"{value} ± {entry[metric + '_std']:.1f}"


def seed_paired_difference(best: dict, base: dict, metric: str) -> tuple[float, float]:
    """Mean difference and its standard error.

    Cells of one seed share the detector's initial weights and the data order, and on FOD-A that seed effect moves
    every cell of a seed together (by over 10 AP50 points). So where both series have two or more seeds in
    common, the difference is paired: the mean and standard error of the per-seed differences. Otherwise it is
    unpaired, sqrt(s1^2/n1 + s2^2/n2) (0 with a single seed each)."""
    differences = per_seed_differences(best, base, metric)
    if len(differences) >= 2:
        return float(differences.mean()), float(differences.std(ddof=1) / np.sqrt(len(differences)))
    gain = best[metric] - base[metric]
    error = float(np.sqrt(best[f"{metric}_std"] ** 2 / best["seeds"] + base[f"{metric}_std"] ** 2 / base["seeds"]))
    return gain, error


def per_seed_differences(ours: dict, theirs: dict, metric: str) -> np.ndarray:
    """``ours - theirs`` at every seed the two summary entries share, in seed order."""
    a, b = ours.get(f"{metric}_by_seed", {}), theirs.get(f"{metric}_by_seed", {})
    return np.array([a[seed] - b[seed] for seed in sorted(set(a) & set(b))], np.float64)


def paired(a: dict, b: dict, metric: str) -> bool:
    """Whether two summary entries share two or more seeds (their difference is then paired by seed)."""
    return len(set(a.get(f"{metric}_by_seed", {})) & set(b.get(f"{metric}_by_seed", {}))) >= 2


def _comparison(summary: list[dict], fraction: float, metric: str) -> dict | None:
    """Best curated policy against the best free baseline (random, uniform, stride) at ``fraction``; None without
    both."""
    at = [s for s in summary if s["fraction"] == fraction and s["policy"] != FULL]
    random = [s for s in at if is_baseline(s["policy"])]
    curated = [s for s in at if not is_baseline(s["policy"])]
    if not random or not curated:
        return None
    best = max(curated, key=lambda s: s[metric])
    base = max(random, key=lambda s: s[metric])
    gain, error = seed_paired_difference(best, base, metric)
    return {"fraction": fraction, "best": best, "random": base, "gain": gain, "error": error}


def paired_power(
    pairs: list[tuple[dict, dict]], *, metric: str = "mAP50", margin: float = 2.0, seeds: int = 3
) -> dict | None:
    """How small a difference the experiment can resolve, from the noise of its own paired comparisons.

    Every (series, baseline) pair of summary entries with two or more seeds in common contributes its per-seed
    differences; their deviations from that pair's mean difference pool into one standard deviation ``s`` of a
    per-seed difference (degrees of freedom: the sum of n - 1). With n seeds a gain clears two standard errors when
    it exceeds 2 s / sqrt(n), so ``resolvable`` is that bound at ``seeds`` seeds, and resolving ``margin`` points
    takes about (2 s / margin)^2 seeds. None without a pair.
    """
    deviations = []
    for ours, theirs in pairs:
        differences = per_seed_differences(ours, theirs, metric)
        if len(differences) >= 2:
            deviations.append(differences - differences.mean())
    if not deviations:
        return None
    dof = sum(len(d) - 1 for d in deviations)
    sd = float(np.sqrt(sum(float((d**2).sum()) for d in deviations) / dof))
    return {
        "metric": metric,
        "pairs": len(deviations),
        "dof": dof,
        "sd_of_paired_difference": sd,
        "seeds": seeds,
        "resolvable": 2 * sd / np.sqrt(seeds),
        "margin": margin,
        "seeds_for_margin": int(np.ceil((2 * sd / margin) ** 2)),
    }


def power_markdown(power: dict | None, *, compared: str) -> str:
    """The power paragraph: the noise of a paired difference and what it lets the experiment resolve."""
    if not power:
        return ""
    name = "AP50" if power["metric"] == "mAP50" else power["metric"]
    return (
        "\n## How small a difference this experiment can resolve\n\n"
        f"Per-seed differences between {compared} vary with a standard deviation of "
        f"{power['sd_of_paired_difference']:.1f} {name} points (pooled over {power['pairs']} comparisons, "
        f"{power['dof']} degrees of freedom). With {power['seeds']} seeds a gain must exceed "
        f"{power['resolvable']:.1f} points to clear two standard errors; resolving +{power['margin']:g} points would "
        f"take about {power['seeds_for_margin']} seeds per series.\n"
    )


def curated_random_pairs(summary: list[dict], *, largest: float = 0.25) -> list[tuple[dict, dict]]:
    """Every curated series against every free baseline (random, uniform, stride, dedup+random) at the same pruned
    fraction (<= ``largest``): all the paired comparisons the verdict could make, whichever baseline leads."""
    pairs = []
    for fraction in sorted({s["fraction"] for s in summary if s["policy"] != FULL and s["fraction"] <= largest}):
        at = [s for s in summary if s["fraction"] == fraction and s["policy"] != FULL]
        random = [s for s in at if is_baseline(s["policy"])]
        pairs += [(s, base) for s in at if not is_baseline(s["policy"]) for base in random]
    return pairs


def verdict(
    summary: list[dict],
    *,
    metric: str = "mAP50",
    largest: float = 0.25,
    margin: float = 2.0,
    full_gap: float = 2.0,
    min_seeds: int = 3,
) -> dict:
    """The target check, in ``metric`` points (AP50 by default); ``met`` is None while a needed line is missing.

    1. At some pruned fraction <= ``largest``, the best curated policy beats the best free baseline (random,
       uniform, stride or dedup+random) by >= ``margin`` points (means over >= ``min_seeds`` seeds), and by more
       than twice the standard error of the difference.
    2. At the largest pruned fraction with a curated series, the best curated policy is within ``full_gap`` points
       of full data (larger fractions with random alone, such as a regime check's, are not the grid).
    """
    pruned = sorted({s["fraction"] for s in summary if s["policy"] != FULL})
    full = next((s for s in summary if s["policy"] == FULL), None)
    comparisons = [c for c in (_comparison(summary, f, metric) for f in pruned if f <= largest) if c is not None]
    if not comparisons or full is None:
        return {
            "met": None,
            "text": f"need random, a curated policy and full-data cells at a fraction <= {largest:.0%}",
        }

    def beats(c: dict) -> bool:
        enough = min(c["best"]["seeds"], c["random"]["seeds"]) >= min_seeds
        return enough and c["gain"] >= margin and c["gain"] > 2 * c["error"]

    winner = max(comparisons, key=lambda c: (beats(c), c["gain"] - 2 * c["error"]))
    top = max(grid_fractions(summary))  # random-only fractions above the grid (a regime check) do not count
    at_top = [s for s in summary if s["fraction"] == top and s["policy"] != FULL]
    curated_top = [s for s in at_top if not is_baseline(s["policy"])] or at_top
    best_top = max(curated_top, key=lambda s: s[metric])
    gap = full[metric] - best_top[metric]
    first, second = beats(winner), bool(gap <= full_gap)
    text = _verdict_text(comparisons, best_top, full, top, gap, winner, first, second, metric, margin, largest,
                         full_gap, min_seeds)  # fmt: skip
    return {
        "met": first and second,
        "metric": metric,
        "fraction": winner["fraction"],
        "best": winner["best"]["series"],
        "gain_over_random": winner["gain"],
        "standard_error": winner["error"],
        "gap_to_full": gap,
        "text": text,
    }


def _verdict_text(
    comparisons, best_top, full, top, gap, winner, first, second, metric, margin, largest, full_gap, min_seeds
) -> str:
    """The verdict in words: every fraction's comparison, the gap to full data, and both targets."""
    name = "AP50" if metric == "mAP50" else metric
    lines = [
        f"at {percent(c['fraction'])}: best curated {c['best']['series']} {format_spread(c['best'], metric)} vs random "
        f"{format_spread(c['random'], metric)}, difference {c['gain']:+.1f} ± {c['error']:.1f} (standard error"
        f"{', paired by seed' if paired(c['best'], c['random'], metric) else ''})"
        for c in comparisons
    ]
    text = (
        f"{name}: "
        + "; ".join(lines)
        + f". At {percent(top)} the best curated policy, {best_top['series']} ({best_top[metric]:.1f}), is "
        f"{abs(gap):.1f} points {'below' if gap > 0 else 'above'} full data ({format_spread(full, metric)}). "
        f"Target 1 (a curated policy >= +{margin:g} {name} over the best free baseline (random, uniform, stride) "
        f"at some fraction <= "
        f"{largest:.0%}, > 2 standard errors, >= {min_seeds} seeds): "
        f"{'met at ' + percent(winner['fraction']) if first else 'not met'}. Target 2 (within {full_gap:g} {name} of "
        f"full data at {percent(top)}): {'met' if second else 'not met'}."
    )
    return text


def percent(fraction: float) -> str:
    """``0.005`` -> ``"0.5%"``, ``0.25`` -> ``"25%"``, ``0.0025`` -> ``"0.25%"``."""
    return f"{100 * fraction:.3g}%"


def regime(
    summary: list[dict], *, metric: str = "mAP50", floor: float = 30.0, headroom: float = 5.0, spread: float = 2.0
) -> dict:
    """The regime check that comes before any policy grid: the full-data detector is well above noise
    (``metric`` >= ``floor``), stable (its standard deviation over seeds <= ``spread`` points, the size of the
    effect the verdict looks for; needs two seeds), and random subsets lose clearly to it (by >= ``headroom``
    points at the smallest fraction). Returns the numbers per fraction and whether all three hold (None while a
    line is missing)."""
    full = next((s for s in summary if s["policy"] == FULL), None)
    random = sorted((s for s in summary if s["policy"] == "random"), key=lambda s: s["fraction"])
    if full is None or not random:
        return {"met": None, "rows": []}
    rows = [
        {
            "fraction": s["fraction"],
            "images": s["images"],
            "seeds": s["seeds"],
            metric: s[metric],
            f"{metric}_std": s[f"{metric}_std"],
            "gap_to_full": full[metric] - s[metric],
        }
        for s in random
    ]
    above, room = full[metric] >= floor, rows[0]["gap_to_full"] >= headroom
    stable = full[f"{metric}_std"] <= spread if full["seeds"] >= 2 else None
    return {
        "met": None if stable is None else bool(above and room and stable),
        "stable": stable,
        "spread": spread,
        "full": {k: full[k] for k in (metric, f"{metric}_std", "seeds", "images")},
        "rows": rows,
        "with_headroom": [r["fraction"] for r in rows if r["gap_to_full"] >= headroom],
        "floor": floor,
        "headroom": headroom,
    }


def grid_fractions(summary: list[dict]) -> set[float]:
    """The pruned fractions with a curated series: the policy grid, without random-only fractions such as a regime
    check's (all pruned fractions when no curated series ran yet)."""
    pruned = [s for s in summary if s["policy"] != FULL]
    curated = {s["fraction"] for s in pruned if not is_baseline(s["policy"])}
    return curated or {s["fraction"] for s in pruned}


def scaling_exponents(summary: list[dict], *, metric: str = "mAP50") -> dict[str, dict]:
    """Per series, the power law ``error = c * n^-nu`` fitted to (images, 1 - metric/100) at the grid's fractions
    (least squares on log-log axes, means over seeds); series with fewer than two fractions are left out. Every
    series is fitted over the same fractions, so that the exponents compare: random's points above the grid (a
    regime check) would fit another part of its curve."""
    fits = {}
    grid = grid_fractions(summary)
    for name in sorted({s["series"] for s in summary if s["policy"] != FULL}):
        points = [(s["images"], 1 - s[metric] / 100) for s in summary if s["series"] == name and s["fraction"] in grid]
        points = [(n, e) for n, e in points if n > 0 and 0 < e < 1]
        if len({n for n, _ in points}) < 2:
            continue
        x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
        slope, intercept = np.polyfit(x, y, 1)
        fits[name] = {"nu": float(-slope), "c": float(np.exp(intercept)), "points": len(points)}
    return fits


def rare_class_table(rows: list[dict], rare: list[str], fraction: float | None = None) -> dict:
    """Mean per-class AP of ``rare`` classes per series at ``fraction`` (default: the smallest pruned one)."""
    pruned = sorted({r["fraction"] for r in rows if r["policy"] != FULL and r.get("per_class")})
    if len(rare) < 2 or not pruned:  # one class (class-agnostic): its AP is the mAP of the table
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


def plot_png(summary: list[dict], *, steps: int, title: str, metric: str = "mAP50") -> bytes:
    """Two panels: ``metric`` against kept fraction, one line per series with error bars over seeds and the
    full-data line; and the paper's figure, error (1 - metric) against training images on log-log axes with each
    series' fitted power law and its exponent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "AP50" if metric == "mAP50" else metric
    fig, (ax, law) = plt.subplots(1, 2, figsize=(12, 4.6))
    full = next((s for s in summary if s["policy"] == FULL), None)
    series = sorted({s["series"] for s in summary if s["policy"] != FULL})
    fractions = sorted({s["fraction"] for s in summary})
    logarithmic = len(fractions) > 1 and fractions[0] < 0.05
    fits = scaling_exponents(summary, metric=metric)
    fitted_fractions = grid_fractions(summary)
    for number, label in enumerate(series):
        points = sorted((s for s in summary if s["series"] == label), key=lambda s: s["fraction"])
        offset = 1.04 ** (number - (len(series) - 1) / 2) if logarithmic else 1.0
        nudge = 0.0 if logarithmic else 0.006 * (number - (len(series) - 1) / 2)  # error bars side by side
        xs = [p["fraction"] * offset + nudge for p in points]
        ys, errors = [p[metric] for p in points], [p[f"{metric}_std"] for p in points]
        style = "--" if "random" in label else "-"
        line = ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=label, linestyle=style)
        color = line[0].get_color()
        images = [p["images"] for p in points]
        law.errorbar(images, [1 - y / 100 for y in ys], yerr=[e / 100 for e in errors], marker="o", capsize=3,
                     color=color, linestyle="none")  # fmt: skip
        if label in fits:
            fit = fits[label]
            fitted = [p["images"] for p in points if p["fraction"] in fitted_fractions]
            grid = np.geomspace(min(fitted), max(fitted), 20)
            law.plot(grid, fit["c"] * grid ** -fit["nu"], style, color=color, label=f"{label}: ν = {fit['nu']:.2f}")
    if full is not None:
        ax.axhline(
            full[metric], color="black", linewidth=1, linestyle=":", label=f"full data ({format_spread(full, metric)})"
        )
        law.axhline(1 - full[metric] / 100, color="black", linewidth=1, linestyle=":", label="full data")
    _label_axes(ax, law, summary, fractions, logarithmic, name, f"{title}\nsame budget for every run: {steps} steps")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _label_axes(ax, law, summary: list[dict], fractions: list[float], logarithmic: bool, name: str, title: str):
    """Scales, ticks at the grid's fractions and sizes, labels, legends and grids of both panels."""
    if logarithmic:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(fractions))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: percent(value)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("kept fraction of the training set")
    ax.set_ylabel(f"{name} on val (%)")
    ax.set_title(title)
    law.set_xscale("log")
    law.set_yscale("log")
    if logarithmic:
        sizes = sorted({s["images"] for s in summary if s["policy"] != FULL and s["images"] > 0})
        law.xaxis.set_major_locator(FixedLocator(sizes))  # only the sizes trained on: minor labels overlap
        law.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        law.xaxis.set_minor_formatter(NullFormatter())
    law.set_xlabel("training images")
    law.set_ylabel(f"error = 1 - {name}")
    law.set_title("error against training-set size, fitted power laws (error ∝ n^-ν)")
    for axis in (ax, law):
        axis.legend(frameon=False, fontsize=7)
        axis.grid(alpha=0.3, which="both")


def atomic_write(path: Path, data: bytes) -> None:
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
        "regime": regime(summary),
        "exponents": scaling_exponents(summary),
        "verdict": verdict(summary),
        "power": paired_power(curated_random_pairs(summary)),
        "rare_classes": rare_class_table(rows, list(rare)),
    }
    png = plot_png(summary, steps=settings["steps"], title=title) if rows else None
    write_documents(out / "scaling", document, CSV_FIELDS, png, markdown(document, title=title))
    return document


def write_documents(stem: Path, document: dict, csv_fields: tuple[str, ...], png: bytes | None, text: str) -> None:
    """An experiment's result files, each written atomically: ``<stem>.json`` (the document), ``.csv`` (its
    ``cells``, columns ``csv_fields``), ``.png`` (when given) and ``.md``."""
    atomic_write(stem.with_suffix(".json"), json.dumps(document, indent=2).encode())
    table_text = io.StringIO()
    writer = csv.DictWriter(table_text, fieldnames=csv_fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(document["cells"])
    atomic_write(stem.with_suffix(".csv"), table_text.getvalue().encode())
    if png is not None:
        atomic_write(stem.with_suffix(".png"), png)
    atomic_write(stem.with_suffix(".md"), text.encode())


def markdown(document: dict, *, title: str) -> str:
    """The short text report: the budget rule, the table and the verdict."""
    steps = document["settings"]["steps"]
    return (
        f"# {title}\n\nEvery cell trains the same detector for the same number of steps ({steps}), not the same "
        "number of epochs: a smaller subset is seen more often. mAP is COCO mAP@[.5:.95] and mAP50 COCO AP at IoU "
        "0.5 on the validation set, mean ± sample standard deviation over seeds.\n\n"
        f"{table(document['summary'])}\n\n**Verdict.** {document['verdict']['text']}\n"
        + by_seed_markdown(document["summary"])
        + regime_markdown(document.get("regime") or {})
        + exponents_markdown(document.get("exponents") or {})
        + power_markdown(document.get("power"), compared="each curated series and each random series at its fraction")
        + rare_markdown(document.get("rare_classes") or {})
    )


def regime_markdown(check: dict) -> str:
    """The regime check as a table: full data against random at each fraction, and whether it holds."""
    if not check.get("rows"):
        return ""
    full = check["full"]
    verdict = {True: "holds", False: "does not hold", None: "needs full data at two seeds or more"}[check["met"]]
    lines = [
        "\n## Regime check\n",
        f"Full data: AP50 {full['mAP50']:.1f} ± {full['mAP50_std']:.1f} (seeds: {full['seeds']}; needs >= "
        f"{check['floor']:g}, and a standard deviation over seeds <= {check['spread']:g}). Random subsets must lose "
        f">= {check['headroom']:g} AP50 points at the smallest fraction. The check {verdict}.\n",
        "| random, kept | images | seeds | AP50 | below full data |",
        "|---|---|---|---|---|",
    ]
    for row in check["rows"]:
        lines.append(
            f"| {percent(row['fraction'])} | {row['images']:.0f} | {row['seeds']} | {row['mAP50']:.1f} ± "
            f"{row['mAP50_std']:.1f} | {row['gap_to_full']:+.1f} |"
        )
    return "\n".join(lines) + "\n"


def exponents_markdown(fits: dict) -> str:
    """Each series' fitted power law of AP50 error against training images."""
    if not fits:
        return ""
    lines = [
        "\n## Scaling exponents\n",
        "error = 1 - AP50 fitted as c · n^-ν over the grid's fractions, the same for every series (log-log least "
        "squares, means over seeds); a policy that bends the curve below random's power law has a larger ν.\n",
        "| series | ν | fractions |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {fit['nu']:.3f} | {fit['points']} |" for name, fit in fits.items()]
    return "\n".join(lines) + "\n"


def rare_markdown(rare: dict) -> str:
    """The per-class AP table of the rarest classes, or nothing."""
    if not rare:
        return ""
    classes = rare["classes"]
    lines = [
        f"\n## Rarest classes at {percent(rare['fraction'])} kept\n",
        "COCO AP (%) per class, mean over seeds; the classes with the fewest training boxes.\n",
        "| series | " + " | ".join(classes) + " | mean |",
        "|---|" + "---|" * (len(classes) + 1),
    ]
    for series, values in rare["series"].items():
        cells = " | ".join(f"{values[c]:.1f}" for c in classes)
        lines.append(f"| {series} | {cells} | {np.mean(list(values.values())):.1f} |")
    return "\n".join(lines) + "\n"


def by_seed_markdown(summary: list[dict], metric: str = "mAP50") -> str:
    """AP50 of every series per seed, and its per-seed difference to plain random at the same fraction: the numbers
    behind the paired verdict. Seeds a series has not run yet show ``·``."""
    pruned = [s for s in summary if s["policy"] != FULL]
    if not pruned:
        return ""
    seeds = sorted({int(k) for s in summary for k in s[f"{metric}_by_seed"]})
    lines = [
        "\n## AP50 by seed\n",
        "`minus random`: the difference to random (image) at the same fraction and seed.\n",
        "| series | kept | " + " | ".join(f"seed {k}" for k in seeds) + " | minus random, by seed |",
        "|---|---|" + "---|" * (len(seeds) + 1),
    ]
    for s in sorted(pruned, key=lambda s: (s["fraction"], s["policy"] != "random", s["series"])):
        values = s[f"{metric}_by_seed"]
        random = next((r for r in pruned if r["fraction"] == s["fraction"] and r["series"] == "random (image)"), None)
        base = random[f"{metric}_by_seed"] if random is not None and random is not s else {}
        differences = ", ".join(f"{values[k] - base[k]:+.1f}" for k in sorted(values, key=int) if k in base)
        cells = " | ".join(f"{values[str(k)]:.1f}" if str(k) in values else "·" for k in seeds)
        lines.append(f"| {s['series']} | {percent(s['fraction'])} | {cells} | {differences} |")
    return "\n".join(lines) + "\n"


def table(summary: list[dict]) -> str:
    """A Markdown table of the summary (mean +/- std over seeds)."""
    lines = ["| series | kept | images | seeds | mAP | mAP50 |", "|---|---|---|---|---|---|"]
    for s in sorted(summary, key=lambda s: (s["fraction"], s["series"])):
        lines.append(
            f"| {s['series']} | {percent(s['fraction'])} | {s['images']:.0f} | {s['seeds']} | "
            f"{format_spread(s)} | {format_spread(s, 'mAP50')} |"
        )
    return "\n".join(lines)
