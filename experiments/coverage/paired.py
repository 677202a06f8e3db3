"""The study's headline from a scaling.json (the tune grid, or the test cells): each series' AP50 at one fraction,
minus each free baseline's, paired by seed, and the issue's target checked against the better free baseline.

    python paired.py results/scaling.json --fraction 0.002 [--out results/paired-tune.json]

The better free baseline is the one of ``uniform`` and ``stride`` with the higher mean over the seeds every series
shares. The target: a gain of at least 2 AP50 that is also above 2 standard errors of the paired difference, with
full data at least 5 AP50 above ``uniform`` (the headroom), all over at least 5 seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FREE = ("uniform", "stride")
MIN_GAIN, MIN_SEEDS, MIN_HEADROOM = 2.0, 5, 5.0


def paired_table(cells: list[dict], fraction: float) -> dict:
    """Per series at ``fraction``: AP50 by seed, mean, and the paired difference to each free baseline."""
    by_series: dict[str, dict[int, float]] = {}
    for cell in cells:
        if cell["policy"] != "full" and abs(cell["fraction"] - fraction) < 1e-9:
            by_series.setdefault(cell["policy"], {})[cell["seed"]] = cell["mAP50"]
    full = {c["seed"]: c["mAP50"] for c in cells if c["policy"] == "full"}
    seeds = sorted(set.intersection(*(set(s) for s in by_series.values())))
    rows = {}
    for series, scores in by_series.items():
        values = np.array([scores[s] for s in seeds])
        row = {"seeds": seeds, "mAP50": values.round(2).tolist(), "mean": round(float(values.mean()), 2)}
        for baseline in FREE:
            if baseline in by_series and baseline != series:
                diff = values - np.array([by_series[baseline][s] for s in seeds])
                error = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
                row[f"minus_{baseline}"] = {"mean": round(float(diff.mean()), 2), "standard_error": round(error, 2)}
        rows[series] = row
    better = max((b for b in FREE if b in rows), key=lambda b: rows[b]["mean"])
    full_mean = float(np.mean([full[s] for s in seeds if s in full])) if full else None
    return {"fraction": fraction, "seeds": seeds, "series": rows, "better_free_baseline": better, "full": full_mean}


def target(table: dict) -> dict:
    """The issue's target against the better free baseline: the best other series, its gain, and whether it holds."""
    better = table["better_free_baseline"]
    others = {s: r for s, r in table["series"].items() if s not in FREE}
    best = max(others, key=lambda s: others[s][f"minus_{better}"]["mean"])
    gain = others[best][f"minus_{better}"]
    headroom = None if table["full"] is None else round(table["full"] - table["series"]["uniform"]["mean"], 2)
    met = (
        len(table["seeds"]) >= MIN_SEEDS
        and gain["mean"] >= MIN_GAIN
        and gain["mean"] > 2 * gain["standard_error"]
        and headroom is not None
        and headroom >= MIN_HEADROOM
    )
    return {"best": best, "against": better, "gain": gain, "headroom": headroom, "met": bool(met)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scaling", type=Path)
    parser.add_argument("--fraction", type=float, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    table = paired_table(json.loads(args.scaling.read_text())["cells"], args.fraction)
    table["target"] = target(table)
    print(f"{args.scaling}, fraction {args.fraction}, seeds {table['seeds']}; full data {table['full']}")
    print(f"{'series':<18}{'mean':>7}  {'minus uniform':>15}  {'minus stride':>15}")
    for series, row in sorted(table["series"].items(), key=lambda item: -item[1]["mean"]):
        cols = [row.get(f"minus_{b}") for b in FREE]
        text = [f"{c['mean']:+6.1f} ± {c['standard_error']:.1f}" if c else "" for c in cols]
        print(f"{series:<18}{row['mean']:7.1f}  {text[0]:>15}  {text[1]:>15}")
    t = table["target"]
    print(f"best against {t['against']} (the better free baseline): {t['best']} {t['gain']['mean']:+.1f} "
          f"± {t['gain']['standard_error']:.1f}; headroom {t['headroom']}; target met: {t['met']}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
