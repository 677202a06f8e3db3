"""``edgeprune benchmark``: latency, size and accuracy of TFLite detectors, to choose one for a device."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import int_list, positive_int


def register(subparsers) -> None:
    """Add the ``benchmark`` subcommand."""
    p = subparsers.add_parser(
        "benchmark",
        help="latency, size and mAP of exported TFLite models",
        description="Load each model with the TFLite interpreter (ai_edge_litert); report size, input type, "
        "latency (warm-up, then p50/p90 ms per thread count) and, with --val, COCO mAP. Prints a "
        "table and writes benchmark.json and benchmark.png (mAP vs latency).",
    )
    p.add_argument("models", nargs="+", type=Path, help="TFLite model files")
    p.add_argument("--val", help="validation dataset (any format) for mAP; classes matched via labelmap.txt")
    p.add_argument("--val-split", help="VOC split of VAL")
    p.add_argument("--threads", type=int_list, default=[1, 2, 4], help="thread counts (default 1,2,4)")
    p.add_argument("--runs", type=positive_int, default=50, help="timed runs per thread count (default 50)")
    p.add_argument("--out", type=Path, default=Path("benchmark"), help="directory for benchmark.json/.png")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Benchmark and print the table."""
    from ..datasets import read_dataset
    from ..detect.benchmark import benchmark, table, write_results

    val = read_dataset(args.val, split=args.val_split) if args.val else None
    rows = benchmark(args.models, threads=args.threads, runs=args.runs, val=val)
    print(table(rows, args.threads))
    json_path, png_path = write_results(rows, args.threads, args.out)
    print(f"\nwrote {json_path} and {png_path}")
    return 0
