"""Wall time of every clustering method on 20k x 128 embeddings, k=20, against scikit-learn KMeans.

Goal: no method slower than 5 x sklearn KMeans on the same data. With ``--reference-python`` (a Python of a
side venv holding ``prosemble`` and/or ``scikit-fuzzy``), the libraries edgeprune replaces are timed on the same
data in a subprocess (on a subsample when they are too slow, extrapolated linearly in n and marked so).

    python tools/bench_methods.py [--n 20000] [--dim 128] [--k 20] [--reference-python /path/to/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import make_blobs

from edgeprune.cluster import METHODS, make_clusterer
from edgeprune.vectors import l2_normalize

REFERENCE_SCRIPT = r"""
import json, sys, time
import numpy as np
X = np.load(sys.argv[1]); k = int(sys.argv[2]); budget = float(sys.argv[3])
out = {}
def timed(name, fn, n):
    started = time.perf_counter()
    try:
        fn(X[:n])
        out[name] = {"seconds": time.perf_counter() - started, "n": n}
    except Exception as exc:
        out[name] = {"error": f"{exc.__class__.__name__}: {exc}"[:200]}
try:
    import skfuzzy
    def cmeans(A):
        return skfuzzy.cluster.cmeans(A.T, k, 2.0, error=1e-3, maxiter=1000, seed=0)
    timed("fcm (scikit-fuzzy cmeans)", cmeans, len(X))
except ImportError as exc:
    out["scikit-fuzzy"] = {"error": str(exc)}
try:
    from prosemble import models
    for name in ("FCM", "PCM", "FPCM", "PFCM", "IPCM", "IPCM2", "BGPC", "HCM"):
        cls = getattr(models, name, None)
        if cls is None:
            out[f"{name.lower()} (prosemble)"] = {"error": "not in this prosemble"}
            continue
        import inspect
        accepted = inspect.signature(cls.__init__).parameters
        kwargs = {"n_clusters": k, "max_iter": 100}
        kwargs.update({name: 1e-3 for name in ("epsilon", "tol") if name in accepted})
        def fit(A, cls=cls, kwargs=kwargs):
            model = cls(**kwargs)
            model.fit(A)
        n = len(X)
        started = time.perf_counter(); fit(X[:1000]); small = time.perf_counter() - started
        if small * len(X) / 1000 > budget:
            n = 1000
            out[f"{name.lower()} (prosemble)"] = {"seconds": small, "n": n}
        else:
            timed(f"{name.lower()} (prosemble)", fit, n)
except ImportError as exc:
    out["prosemble"] = {"error": str(exc)}
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--reference-python", help="python of a venv with prosemble / scikit-fuzzy")
    parser.add_argument("--reference-budget", type=float, default=120.0, help="seconds per reference method")
    args = parser.parse_args()
    X, _ = make_blobs(args.n, n_features=args.dim, centers=args.k * 2, cluster_std=4.0, random_state=0)
    X = l2_normalize(X.astype(np.float32))

    started = time.perf_counter()
    SkKMeans(args.k, n_init=1, random_state=0).fit(X)
    baseline = time.perf_counter() - started
    print(f"{args.n} x {args.dim}, k={args.k}")
    print(f"{'sklearn KMeans (baseline)':28s} {baseline:7.2f} s")
    worst = 0.0
    for name in sorted(METHODS):
        started = time.perf_counter()
        est = make_clusterer(name, args.k, random_state=0).fit(X)
        seconds = time.perf_counter() - started
        worst = max(worst, seconds / baseline)
        iterations = getattr(est, "n_iter_", "-")
        print(
            f"{'edgeprune ' + name:28s} {seconds:7.2f} s   {seconds / baseline:5.2f} x sklearn   "
            f"iterations {iterations}"
        )
    print(f"slowest method: {worst:.2f} x sklearn KMeans (goal <= 5)")

    if args.reference_python:
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "X.npy", X)
            script = Path(tmp) / "ref.py"
            script.write_text(REFERENCE_SCRIPT)
            result = subprocess.run(
                [args.reference_python, str(script), str(Path(tmp) / "X.npy"), str(args.k), str(args.reference_budget)],
                capture_output=True,
                text=True,
            )
        if result.returncode != 0:
            print("reference run failed:", result.stderr.strip().splitlines()[-1:])
            return
        print("\nreference libraries (same data):")
        for name, info in json.loads(result.stdout.strip().splitlines()[-1]).items():
            if "error" in info:
                print(f"  {name:30s} unavailable: {info['error']}")
            else:
                full = info["seconds"] * args.n / info["n"]
                note = "" if info["n"] == args.n else f" (timed on {info['n']}, extrapolated)"
                print(f"  {name:30s} {full:9.1f} s{note}")


if __name__ == "__main__":
    main()
