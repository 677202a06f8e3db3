"""``benchmark``: size, input type, Edge TPU op coverage (integer models), latency (p50/p90 per thread count) and
VAL mAP of TFLite detectors."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..errors import EdgepruneError
from .evaluate import coco_metrics, ground_truth, run_detector, tflite_detector, tflite_interpreter
from .tflite_graph import edgetpu_summary, read_ops

log = logging.getLogger(__name__)


def latency(model_path: Path, *, threads: int, runs: int, warmup: int = 5) -> dict:
    """p50/p90/mean milliseconds of ``invoke`` on a random input, after ``warmup`` runs."""
    interpreter = tflite_interpreter(model_path, threads)
    source = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    sample = rng.integers(0, 256, size=source["shape"]).astype(source["dtype"])
    interpreter.set_tensor(source["index"], sample)
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
        "mean_ms": round(float(np.mean(times)), 2),
    }


def describe(model_path: Path) -> dict:
    """Size and input signature of a TFLite model; a clear error if it is not one."""
    if not model_path.is_file():
        raise EdgepruneError(f"{model_path}: no such file")
    try:
        interpreter = tflite_interpreter(model_path, 1)
    except (ValueError, RuntimeError) as exc:
        raise EdgepruneError(f"{model_path}: not a loadable TFLite model ({str(exc).splitlines()[0]})") from None
    source = interpreter.get_input_details()[0]
    outputs = interpreter.get_output_details()
    if len(outputs) != 4:
        raise EdgepruneError(f"{model_path}: expected 4 detection outputs, found {len(outputs)}")
    row = {
        "model": str(model_path),
        "size_bytes": model_path.stat().st_size,
        "input": f"{np.dtype(source['dtype']).name} {[int(d) for d in source['shape']]}",
        "image_size": int(source["shape"][1]),
    }
    if np.dtype(source["dtype"]) in (np.uint8, np.int8):  # integer models: what the Edge TPU compiler would map
        row["edgetpu"] = edgetpu_summary(read_ops(model_path))
    return row


def val_metrics(model_path: Path, val) -> dict:
    """COCO metrics of one model on VAL, with VAL mapped to the model's ``labelmap.txt`` by name."""
    from .data import read_labelmap, remap

    label_file = model_path.parent / "labelmap.txt"
    if not label_file.is_file():
        raise EdgepruneError(f"{label_file}: needed to match VAL categories to the model's classes")
    labels = read_labelmap(label_file)
    data = remap(val, labels, role="VAL")
    size = describe(model_path)["image_size"]
    return coco_metrics(
        ground_truth(data), run_detector(tflite_detector(model_path), data, size, f"mAP {model_path.name}")
    )


def benchmark(models: list[Path], *, threads: list[int], runs: int, val=None) -> list[dict]:
    """One row per model: description, latency per thread count, and VAL metrics when ``val`` is given."""
    rows = []
    for model_path in models:
        row = describe(model_path)
        row["latency"] = {str(t): latency(model_path, threads=t, runs=runs) for t in threads}
        if val is not None:
            row["val"] = val_metrics(model_path, val)
        rows.append(row)
    return rows


def table(rows: list[dict], threads: list[int]) -> str:
    """A plain-text table of the rows."""
    head = f"{'model':34s} {'size MB':>8s} {'input':>24s} {'Edge TPU ops':>12s} "
    head += " ".join(f"{f'p50/p90 ms @{t}t':>18s}" for t in threads)
    has_map = any("val" in r for r in rows)
    if has_map:
        head += f" {'mAP':>6s} {'mAP50':>6s}"
    lines = [head, "-" * len(head)]
    for row in rows:
        edgetpu = f"{row['edgetpu']['mapped']}/{row['edgetpu']['total']}" if "edgetpu" in row else "-"
        line = f"{Path(row['model']).name[:34]:34s} {row['size_bytes'] / 1e6:8.2f} {row['input']:>24s} {edgetpu:>12s} "
        line += " ".join(
            f"{row['latency'][str(t)]['p50_ms']:>8.1f}/{row['latency'][str(t)]['p90_ms']:<9.1f}" for t in threads
        )
        if has_map:
            line += f" {row['val']['mAP']:6.1f} {row['val']['mAP50']:6.1f}" if "val" in row else ""
        lines.append(line)
    return "\n".join(lines)


def plot(rows: list[dict], threads: list[int], path: Path) -> None:
    """mAP (or size, without VAL) against p50 latency at the largest thread count, one point per model."""
    from ..report.plots import figure_png, plt

    t = str(max(threads))
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        y = row["val"]["mAP"] if "val" in row else row["size_bytes"] / 1e6
        ax.scatter(row["latency"][t]["p50_ms"], y, s=60)
        ax.annotate(
            Path(row["model"]).stem,
            (row["latency"][t]["p50_ms"], y),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    ax.set_xlabel(f"p50 latency (ms, {t} threads)")
    ax.set_ylabel("COCO mAP on VAL" if any("val" in r for r in rows) else "size (MB)")
    ax.grid(alpha=0.3)
    path.write_bytes(figure_png(fig))


def write_results(rows: list[dict], threads: list[int], out_dir: Path) -> tuple[Path, Path]:
    """``benchmark.json`` and ``benchmark.png`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmark.json").write_text(json.dumps(rows, indent=2))
    plot(rows, threads, out_dir / "benchmark.png")
    return out_dir / "benchmark.json", out_dir / "benchmark.png"
