"""The reference tool's pruning experiment with prototype classifiers, on iris and digits (bundled in sklearn).

For prune fractions 0.1..0.9 and modes easy / hard / random, ``edgeprune.prune`` splits the standardised data
into the kept part ("in") and the pruned-out part ("out"), clustering with k = number of classes. A prototype
classifier (GLVQ by default) is scored by cross-validation on the kept part, and trained on the kept part and
tested on the pruned-out part. Writes a table (stdout and CSV) and a PNG plot.

    python experiments/lvq/lvq_pruning_experiment.py [--classifier glvq|gmlvq|celvq] [--out lvq_pruning]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from lvq import CELVQ, GLVQ, GMLVQ
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from edgeprune import prune

CLASSIFIERS = {"glvq": GLVQ, "gmlvq": GMLVQ, "celvq": CELVQ}
FRACTIONS = [round(0.1 * i, 1) for i in range(1, 10)]
MODES = ("easy", "hard", "random")


def run(name: str, X: np.ndarray, y: np.ndarray, classifier) -> list[dict]:
    X = StandardScaler().fit_transform(X)
    k = len(np.unique(y))
    rows = []
    for fraction in FRACTIONS:
        for mode in MODES:
            inside, outside = prune(X, keep=1 - fraction, policy=mode, clusters=k, return_="both", seed=0)
            counts = np.bincount(y[inside], minlength=k)
            folds = int(min(5, counts[counts > 0].min()))
            cv = float("nan")
            if folds >= 2 and (counts > 0).sum() >= 2:
                cv = cross_val_score(
                    classifier(), X[inside], y[inside], cv=StratifiedKFold(folds, shuffle=True, random_state=0)
                ).mean()
            out_acc = classifier().fit(X[inside], y[inside]).score(X[outside], y[outside]) if len(outside) else np.nan
            rows.append(
                {
                    "dataset": name,
                    "fraction": fraction,
                    "mode": mode,
                    "kept": len(inside),
                    "pruned": len(outside),
                    "cv_accuracy_kept": round(float(cv), 4),
                    "accuracy_pruned_out": round(float(out_acc), 4),
                }
            )
            print(
                f"{name:7s} prune {fraction:.1f} {mode:6s} kept {len(inside):5d}  CV acc (kept) {cv:.3f}  "
                f"acc on pruned-out {out_acc:.3f}",
                flush=True,
            )
    return rows


def plot(rows: list[dict], path: Path, classifier: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 3.5 * len(datasets)), squeeze=False)
    for row_axes, dataset in zip(axes, datasets):
        for ax, metric, title in zip(
            row_axes,
            ("cv_accuracy_kept", "accuracy_pruned_out"),
            ("CV accuracy on the kept part", "accuracy on the pruned-out part"),
        ):
            for mode in MODES:
                points = [(r["fraction"], r[metric]) for r in rows if r["dataset"] == dataset and r["mode"] == mode]
                ax.plot(*zip(*points), marker="o", label=mode)
            ax.set_title(f"{dataset}: {title} ({classifier.upper()})")
            ax.set_xlabel("prune fraction")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=96)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", choices=sorted(CLASSIFIERS), default="glvq")
    parser.add_argument("--out", type=Path, default=Path("lvq_pruning"))
    args = parser.parse_args()
    classifier = CLASSIFIERS[args.classifier]
    rows = []
    for name, loader in (("iris", load_iris), ("digits", load_digits)):
        X, y = loader(return_X_y=True)
        rows += run(name, X, y, classifier)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "lvq_pruning.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out / "lvq_pruning.png", args.classifier)
    print(f"wrote {args.out / 'lvq_pruning.csv'} and {args.out / 'lvq_pruning.png'}")


if __name__ == "__main__":
    main()
