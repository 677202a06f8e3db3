"""Clustering speed: scikit-learn KMeans vs edgeprune's default k-means on 200k x 256 embeddings, k=100.

Both run Lloyd iterations from a seeded start; quality is shown as inertia (sum of squared distances of every
sample to its nearest center, computed the same way for all). Target: edgeprune's default >= 5x sklearn.

    python tools/bench_cluster.py [--n 200000] [--dim 256] [--k 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import MiniBatchKMeans
from sklearn.datasets import make_blobs

from edgeprune.cluster import KMeans
from edgeprune.cluster.base import nearest_prototype
from edgeprune.vectors import l2_normalize


def inertia(X: np.ndarray, centers: np.ndarray) -> float:
    return float(np.sum(nearest_prototype(X, centers)[1].astype(np.float64) ** 2))


def timed(fn):
    started = time.perf_counter()
    centers = fn()
    return time.perf_counter() - started, centers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    X, _ = make_blobs(args.n, n_features=args.dim, centers=args.k * 2, cluster_std=4.0, random_state=0)
    X = l2_normalize(X.astype(np.float32))

    runs = {
        "sklearn KMeans (k-means++, n_init=1)": lambda: (
            SkKMeans(args.k, n_init=1, random_state=0).fit(X).cluster_centers_
        ),
        "sklearn MiniBatchKMeans": lambda: (
            MiniBatchKMeans(args.k, n_init=1, random_state=0, batch_size=4096).fit(X).cluster_centers_
        ),
        "edgeprune KMeans (default backend)": lambda: KMeans(args.k, random_state=0).fit(X).cluster_centers_,
    }
    results = {name: timed(fn) for name, fn in runs.items()}
    backend = KMeans(args.k)._resolved_backend(args.n)
    baseline = results["sklearn KMeans (k-means++, n_init=1)"][0]
    print(f"{args.n} x {args.dim}, k={args.k}; edgeprune default backend: {backend}")
    for name, (seconds, centers) in results.items():
        print(f"{name:38s} {seconds:7.2f} s   speed-up {baseline / seconds:5.1f}x   inertia {inertia(X, centers):.1f}")


if __name__ == "__main__":
    main()
