"""A confirmation on fresh seeds. A grid of a few seeds picks its leading (policy, fraction) after the fact, so its
own verdict on that pair is optimistic. Run more seeds of the pair and of the random baselines, then test the lead
on the new seeds alone, which the choice never saw: the paired difference per seed, its mean and standard error,
and the issue's rule (>= 2 AP50 points and > 2 standard errors) against the strongest random series. Nothing is
trained here; it reads ``scaling.json``.

    python experiments/pruning-fod/pruning_confirm.py data/pruning_ft --series "coreset (image)" --fraction 0.0025 \
        --first-seed 3 \
        --out experiments/pruning-fod/results/finetune/confirm-coreset.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgepruneError
from edgeprune.input_guard import check_apart


def by_seed(summary: list[dict], series: str, fraction: float, metric: str) -> dict[int, float]:
    """``metric`` per seed of one series at one fraction (empty if it never ran)."""
    for entry in summary:
        if entry["series"] == series and entry["fraction"] == fraction:
            return {int(seed): value for seed, value in entry[f"{metric}_by_seed"].items()}
    return {}


def confirm(
    summary: list[dict],
    series: str,
    baseline: str,
    fraction: float,
    first_seed: int,
    *,
    metric: str = "mAP50",
    margin: float = 2.0,
    collapse_below: float = 10.0,
) -> dict:
    """The paired test of ``series`` against ``baseline`` at ``fraction`` on seeds >= ``first_seed``, next to the
    same test on the seeds before it (the ones the choice was made on). A cell more than ``collapse_below`` points
    under its series' median over all seeds counts as a collapse."""
    ours, theirs = by_seed(summary, series, fraction, metric), by_seed(summary, baseline, fraction, metric)
    shared = sorted(set(ours) & set(theirs))

    def test(seeds: list[int]) -> dict:
        differences = np.array([ours[s] - theirs[s] for s in seeds], np.float64)
        result = {"seeds": seeds, "differences": [round(float(d), 2) for d in differences]}
        if len(differences) >= 2:
            mean, error = float(differences.mean()), float(differences.std(ddof=1) / np.sqrt(len(differences)))
            passed = mean >= margin and mean > 2 * error
            result.update(mean=round(mean, 2), standard_error=round(error, 2), met=bool(passed))
        return result

    def collapses(values: dict[int, float]) -> list[int]:
        median = float(np.median(list(values.values()))) if values else 0.0
        return [seed for seed, value in sorted(values.items()) if value < median - collapse_below]

    return {
        "metric": metric,
        "series": series,
        "baseline": baseline,
        "fraction": fraction,
        "chosen_on": test([s for s in shared if s < first_seed]),
        "fresh": test([s for s in shared if s >= first_seed]),
        "all": test(shared),
        "by_seed": {series: ours, baseline: theirs},
        "collapses": {series: collapses(ours), baseline: collapses(theirs)},
        "rule": f">= {margin:g} points and > 2 standard errors of the paired difference",
    }


def strongest_baseline(comparisons: list[dict]) -> dict:
    """The comparisons against every random series, and the verdict against the strongest of them on the fresh
    seeds (the one the lead gains least over), as the issue's "best random series"."""
    scored = [c for c in comparisons if "mean" in c["fresh"]]
    hardest = min(scored, key=lambda c: c["fresh"]["mean"]) if scored else None
    return {
        "strongest_baseline": hardest["baseline"] if hardest else None,
        "met": hardest["fresh"]["met"] if hardest else None,
        "comparisons": comparisons,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="an edgeprune scaling output directory")
    parser.add_argument("--series", required=True, help='the chosen series, e.g. "coreset (image)"')
    parser.add_argument(
        "--baselines",
        default="random (image),dedup+random (image)",
        help="comma-separated random series; the lead must beat the best of them on the fresh seeds",
    )
    parser.add_argument("--fraction", type=float, required=True)
    parser.add_argument("--first-seed", type=int, required=True, help="the first seed the choice did not see")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.out:
        try:
            check_apart(args.out, [("the scaling run", args.run)])
        except EdgepruneError as error:
            parser.error(str(error))
    summary = json.loads((args.run / "scaling.json").read_text())["summary"]
    comparisons = [
        confirm(summary, args.series, baseline, args.fraction, args.first_seed)
        for baseline in args.baselines.split(",")
    ]
    text = json.dumps(strongest_baseline(comparisons), indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
