"""Scale benchmarks for issue 13: local curate of generated TFRecord datasets, Beam against local, and prune of 1M
embeddings. Not timed tests: each part writes ``tools/results/bench_scale/<part>.json`` and prints a table.

    python tools/bench_scale.py local --images 10000,100000 [--baseline-rev REV]  # peak RSS and time of curate
    python tools/bench_scale.py beam --images 10000            # --runner beam on FnApiRunner, 2 workers, vs local
    python tools/bench_scale.py prune --n 1000000 --dim 256 --k 1000 [--modes memory,disk,sklearn]
    python tools/bench_scale.py dask --images 10000          # DaskRunner on a 2-worker LocalCluster, local disk and S3
    python tools/bench_scale.py leaks --n 100000 --dim 1280 [--real EMB.npy]  # the leak search against brute force
    python tools/bench_scale.py frames --images 10000,100000 --runtimes tf,litert  # the real backbone, footage

Every run is a child process, so its peak RSS (``wait4``'s ``ru_maxrss``) is its own. Datasets are generated once
under ``--data`` (default /tmp/edgeprune-bench-scale): 320x240 JPEG scenes with one to three boxes, in shards of
1,000 records, as the TF OD API writes them. The backbone is a small two-conv SavedModel built here at 64 px, so the
figures are the pipeline's cost (reading, decoding, the cache, clustering, writing), not a large network's.

``frames`` is the exception: the built-in self-supervised MobileNetV2 (curate's default backbone, pretrained on the
footage itself) at its default size, on 640x480 camera frames (``camera_frames.py``), once per embed runtime, and
each stage projected to 1M frames from the measured sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "tools" / "results" / "bench_scale"
EDGEPRUNE = [sys.executable, "-m", "edgeprune"]


def stage_times(output: str) -> str:
    """The ``time:`` line of a curate summary (seconds per stage)."""
    return next((line.strip()[len("time: ") :] for line in output.splitlines() if line.strip().startswith("time:")), "")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants now (``/proc/<pid>/task/*/children``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in children.read_text().split())
            except OSError:
                pass
    return found


def tree_anon_gib(pid: int) -> float:
    """The anonymous RSS (``RssAnon``, GiB) of ``pid`` and its descendants together (worker processes count)."""
    total = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text().splitlines()
            total += int(next(x for x in status if x.startswith("RssAnon")).split()[1])
        except (OSError, StopIteration):
            pass
    return total / 2**20


def run_child(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a command; its wall time, exit code, peak RSS (GiB, ``wait4``: the largest single process) and peak
    anonymous RSS (GiB, ``RssAnon`` of the process and its workers together, sampled every 0.1 s: memory-mapped file
    pages do not count)."""
    import threading

    started = time.perf_counter()
    child = subprocess.Popen(
        argv, env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peak_anon = [0.0]

    def sample() -> None:
        while child.poll() is None:
            peak_anon[0] = max(peak_anon[0], tree_anon_gib(child.pid))
            time.sleep(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({code}):\n{output[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3),
            "peak_rss_anon_gib": round(peak_anon[0], 3), "output": output}  # fmt: skip


def make_records(root: Path, n_images: int, seed: int = 0) -> Path:
    """``n_images`` generated scenes as TFRecord shards of 1,000 plus a label map (skipped when already there)."""
    import tensorflow as tf
    from PIL import Image, ImageDraw

    from edgeprune.datasets.tfrecord import build_example, format_label_map
    from edgeprune.datasets.types import Box, Category, ImageRecord

    done = root / "DONE"
    if done.is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    categories = [Category(i + 1, name) for i, name in enumerate(("cone", "bolt", "tag"))]
    names = {c.id: c.name for c in categories}
    shards = -(-n_images // 1000)
    width, height = 320, 240
    for shard in range(shards):
        path = root / f"train.record-{shard:05d}-of-{shards:05d}"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for index in range(shard * 1000, min(n_images, (shard + 1) * 1000)):
                base = rng.integers(40, 200, 3)
                gradient = np.linspace(0, 1, width)[None, :, None] * rng.integers(-60, 60, 3)
                pixels = np.clip(base + gradient + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)
                image = Image.fromarray(pixels)
                draw = ImageDraw.Draw(image)
                boxes = []
                for _ in range(int(rng.integers(1, 4))):
                    w, h = rng.integers(20, 90, 2)
                    x, y = rng.integers(0, width - w), rng.integers(0, height - h)
                    category = int(rng.integers(1, 4))
                    draw.rectangle([x, y, x + w, y + h], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
                    boxes.append(Box(category, (float(x), float(y), float(w), float(h))))
                buffer = BytesIO()
                image.save(buffer, "JPEG", quality=85)
                record = ImageRecord(
                    index, f"scene_{index:07d}.jpg", width, height, encoded=buffer.getvalue(), boxes=boxes
                )
                writer.write(build_example(record, names).SerializeToString())
    (root / "label_map.pbtxt").write_text(format_label_map(categories))
    done.write_text(str(n_images))
    return root


def tiny_backbone(path: Path) -> Path:
    """The benchmark's backbone: two strided convolutions, 32-d, saved as a SavedModel (built once)."""
    if not (path / "saved_model.pb").is_file():
        from tests.conftest import build_tiny_backbone

        build_tiny_backbone(path, dim=32)
    return path


def curate_args(data: Path | str, out: Path | str, backbone: Path, cache: Path) -> list[str]:
    return [
        *EDGEPRUNE, "-q", "curate", str(data), "--out", str(out), "--overwrite", "--backbone", str(backbone),
        "--image-size", "64", "--cache-dir", str(cache), "--map-points", "0", "--keep", "0.5", "-k", "20",
    ]  # fmt: skip


def bench_local(args) -> dict:
    backbone = tiny_backbone(args.data / "backbone")
    rows = []
    for n in args.images:
        data = make_records(args.data / f"records_{n}", n)
        cache = args.data / f"cache_local_{n}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)  # cold: every image embedded
        result = run_child(curate_args(data, args.data / f"out_local_{n}", backbone, cache))
        size = sum(p.stat().st_size for p in data.glob("train.record-*")) / 2**30
        stages = stage_times(result["output"])
        rows.append({"images": n, "dataset_gib": round(size, 2), "seconds": result["seconds"],
                     "peak_rss_gib": result["peak_rss_gib"], "stages": stages})  # fmt: skip
        print(f"local curate {n:>7} images ({size:.2f} GiB of records): {result['seconds']:7.1f} s, "
              f"peak RSS {result['peak_rss_gib']:.2f} GiB ({stages})")  # fmt: skip
    if len(rows) > 1:
        growth = (rows[-1]["seconds"] / rows[0]["seconds"]) / (rows[-1]["images"] / rows[0]["images"])
        print(f"time per image at {rows[-1]['images']} / at {rows[0]['images']}: {growth:.2f} (1.0 = linear)")
    result = {"rows": rows, "backbone": "two-conv SavedModel, 32-d, 64 px", "keep": 0.5, "clusters": 20}
    if args.baseline_rev:
        result["baseline"] = baseline(args, backbone, rows[-1])
    return result


def baseline(args, backbone: Path, ours: dict) -> dict:
    """The largest dataset curated by the code of another git revision (a temporary worktree), same settings."""
    n, tree = ours["images"], args.data / "baseline_tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(tree), args.baseline_rev],
                   check=True)  # fmt: skip
    try:
        cache = args.data / "cache_baseline"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        data = args.data / f"records_{n}"
        argv = curate_args(data, args.data / "out_baseline", backbone, cache)
        result = run_child(argv, env={"PYTHONPATH": str(tree)}, cwd=tree)  # python -m finds the tree's edgeprune
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
    row = {"revision": args.baseline_rev, "images": n, "seconds": result["seconds"],
           "peak_rss_gib": result["peak_rss_gib"], "stages": stage_times(result["output"])}  # fmt: skip
    print(f"baseline {args.baseline_rev} on {n} images: {row['seconds']:.1f} s, peak RSS {row['peak_rss_gib']:.2f} GiB"
          f" ({row['stages']}); this tree: time x{ours['seconds'] / row['seconds']:.2f}, "
          f"memory x{ours['peak_rss_gib'] / row['peak_rss_gib']:.2f}")  # fmt: skip
    return row


def bench_beam(args) -> dict:
    """Local against ``--runner beam`` (k-means sample = every image, so both keep the same images)."""
    backbone = tiny_backbone(args.data / "backbone")
    rows = []
    for n in args.images:
        data = make_records(args.data / f"records_{n}", n)
        timings = {}
        for name, extra in (
            ("local", []),
            ("beam", ["--runner", "beam", "--work-dir", str(args.data / f"work_{n}"), "--sample-per-cluster", str(n),
                      f"--beam-options=--runner=FnApiRunner --direct_num_workers={args.workers} "
                      "--direct_running_mode=multi_processing"]),
        ):  # fmt: skip
            cache = args.data / f"cache_{name}_{n}"
            subprocess.run(["rm", "-rf", str(cache), str(args.data / f"work_{n}")], check=True)
            result = run_child(curate_args(data, args.data / f"out_{name}_{n}", backbone, cache) + extra)
            timings[name] = {"seconds": result["seconds"], "peak_rss_gib": result["peak_rss_gib"],
                             "stages": stage_times(result["output"])}  # fmt: skip
        same = (args.data / f"out_local_{n}" / "scores.csv").read_text() == (
            args.data / f"out_beam_{n}" / "scores.csv"
        ).read_text()
        ratio = timings["beam"]["seconds"] / timings["local"]["seconds"]
        rows.append({"images": n, **{f"{k}_{m}": v for k, t in timings.items() for m, v in t.items()},
                     "beam_over_local": round(ratio, 2), "same_scores_csv": same})  # fmt: skip
        print(f"{n} images: local {timings['local']['seconds']:.1f} s, beam ({args.workers} workers) "
              f"{timings['beam']['seconds']:.1f} s, ratio {ratio:.2f}; identical scores.csv: {same}")  # fmt: skip
    return {"rows": rows, "workers": args.workers, "runner": "FnApiRunner multi_processing"}


def stage_seconds(output: str) -> dict[str, float]:
    """A curate summary's ``time:`` line as ``{stage: seconds}``."""
    stages = {}
    for part in filter(None, stage_times(output).split(", ")):
        name, seconds = part.rsplit(" ", 1)
        stages[name] = float(seconds.rstrip("s"))
    return stages


def linear_projection(sizes: list[int], values: list[float], target: int) -> float:
    """``values`` at ``target`` on the least-squares line through ``(sizes, values)`` (a fixed cost plus a cost per
    frame); with one size, proportional to it."""
    if len(sizes) == 1:
        return values[0] * target / sizes[0]
    slope, intercept = np.polyfit(np.asarray(sizes, float), np.asarray(values, float), 1)
    return float(intercept + slope * target)


def project_frames(rows: list[dict], runtimes: list[str], target: int = 10**6) -> dict:
    """Each runtime's stages, total and memory at ``target`` frames, each on its own line through the measured sizes.
    Only the first runtime pretrains (later ones reuse its backbone), so a later runtime's cold start is given the
    first one's projected pretraining. Stages whose work stops growing at a size are fixed costs from there on, the
    one measured at the largest size: pretraining reads at most ``PRETRAIN_SAMPLE`` frames, the report's map draws at
    most ``MAX_POINTS``, and converting the backbone for LiteRT does not look at the data. Memory is fitted through
    the sizes at or above ``PRETRAIN_SAMPLE`` where there are two (the pretraining sample grows below it)."""
    from edgeprune.embed.selfsup import PRETRAIN_SAMPLE
    from edgeprune.report.embedding_map import MAX_POINTS

    fixed_from = {"pretrain": PRETRAIN_SAMPLE, "map": MAX_POINTS, "convert": 0}
    sizes = [row["images"] for row in rows]
    steady = [i for i, size in enumerate(sizes) if size >= PRETRAIN_SAMPLE]
    steady = steady if len(steady) >= 2 else list(range(len(sizes)))
    first = runtimes[0]
    projected = {}
    for runtime in runtimes:
        stages = {}
        for stage in {**rows[-1][first]["stages"], **rows[-1][runtime]["stages"]}:
            source = first if stage == "pretrain" else runtime
            values = [row[source]["stages"].get(stage, 0.0) for row in rows]
            if stage in fixed_from and sizes[-1] >= fixed_from[stage]:
                stages[stage] = values[-1]
                continue
            stages[stage] = round(max(0.0, linear_projection(sizes, values, target)), 1)  # a fixed cost may fit a fall
        overhead = [row[runtime]["seconds"] - sum(row[runtime]["stages"].values()) for row in rows]
        total = sum(stages.values()) + max(0.0, linear_projection(sizes, overhead, target))
        memory = {  # a peak that did not grow between the sizes is not projected to fall: the largest measured
            key: round(
                max(
                    max(rows[i][runtime][key] for i in steady),
                    linear_projection([sizes[i] for i in steady], [rows[i][runtime][key] for i in steady], target),
                ),
                2,
            )
            for key in ("peak_rss_gib", "peak_rss_anon_gib")
        }
        projected[runtime] = {"minutes": round(total / 60, 1), **memory, "stages": stages}
        print(f"projected to {target:,} frames, {runtime}: {total / 60:.1f} min, peak RSS {memory['peak_rss_gib']:.2f}"
              f" GiB, RssAnon {memory['peak_rss_anon_gib']:.2f} GiB ({stages})")  # fmt: skip
    for runtime in runtimes[1:]:
        ratio = rows[-1][first]["stages"]["embed"] / rows[-1][runtime]["stages"]["embed"]
        projected[runtime][f"embed_speedup_over_{first}"] = round(ratio, 2)
        print(f"embed stage at {rows[-1]['images']:,} frames: {runtime} {ratio:.2f}x {first}")
    return projected


def evict(paths) -> None:
    """Drop the files' pages from the page cache (``posix_fadvise(DONTNEED)``), so the next read is from disk."""
    for path in paths:
        with open(path, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def bench_frames(args) -> dict:
    """``curate`` with its default backbone on generated footage, a fresh cache per size: the first runtime pays
    the pretraining (its own stage), later ones reuse that backbone and convert it; every runtime embeds cold."""
    from camera_frames import make_frames

    rows = []
    for n in args.images:
        data = make_frames(args.data / f"frames_{n}", n)
        cache = args.data / f"cache_frames_{n}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        size = sum(p.stat().st_size for p in data.glob("train.record-*")) / 2**30
        row = {"images": n, "dataset_gib": round(size, 2)}
        for runtime in args.runtimes:
            out = args.data / f"out_frames_{n}_{runtime}"
            os.sync()  # the last run's output is on disk, so this run's writes do not wait behind it
            evict(data.glob("train.record-*"))  # every run reads its frames from disk, as at 1M
            argv = [*EDGEPRUNE, "-q", "curate", str(data), "--out", str(out), "--overwrite", "--cache-dir", str(cache),
                    "-k", str(args.clusters), "--embed-runtime", runtime]  # fmt: skip
            result = run_child(argv)
            stages = stage_seconds(result["output"])
            row[runtime] = {key: result[key] for key in ("seconds", "peak_rss_gib", "peak_rss_anon_gib")}
            row[runtime]["stages"] = stages
            print(f"{n:>7} frames ({size:.2f} GiB), {runtime}: {result['seconds']:7.1f} s, peak RSS "
                  f"{result['peak_rss_gib']:.2f} GiB, RssAnon {result['peak_rss_anon_gib']:.2f} GiB "
                  f"({stage_times(result['output'])})")  # fmt: skip
        rows.append(row)
    projected = project_frames(rows, args.runtimes) if len(rows) > 1 else None  # a line needs two sizes
    return {
        "rows": rows,
        "projected_1m": projected,
        "backbone": "built-in self-supervised MobileNetV2 (width 0.35, 96 px), pretrained on the footage",
        "frames": "640x480 JPEG (quality 85), fixed-camera videos of 1,000 frames (tools/camera_frames.py)",
        "clusters": args.clusters,
        "projection": "per stage, least squares on (frames, seconds), but pretraining (on at most 20,000 frames), the "
        "report's map (at most 5,000 points) and the LiteRT conversion as measured at the largest size; memory through "
        "the sizes of 20,000 frames and more; later runtimes start cold with the first's pretraining",
        "memory": "peak RssAnon of curate and its reading workers together, sampled every 0.1 s",
    }


def _peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _moto(data: Path, records: Path):
    """A moto S3 server process on a free port with ``records`` uploaded to ``s3://bench/records``; returns
    ``(process, endpoint, boto3 client)``."""
    import socket
    import urllib.request

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (data / "moto.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                          region_name="us-east-1")  # fmt: skip
    client.create_bucket(Bucket="bench")
    for path in sorted(records.iterdir()):
        client.upload_file(str(path), "bench", f"records/{path.name}")
    return process, endpoint, client


def bench_dask(args) -> dict:
    """Local against ``--runner beam`` on Beam's Dask runner (a LocalCluster of ``--workers`` single-threaded worker
    processes on 127.0.0.1), reading the records from local disk, then from a moto S3 server into S3. Peak RSS of
    the driver (the curate process) and of each worker (its own ``ru_maxrss``; the workers restart between runs)."""
    from distributed import Client, LocalCluster

    backbone = tiny_backbone(args.data / "backbone")
    rows = []
    for n in args.images:
        data = make_records(args.data / f"records_{n}", n)
        runs = {}
        cache = args.data / f"cache_dask_{n}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        local = run_child(curate_args(data, args.data / f"out_local_{n}", backbone, cache))
        runs["local"] = {"seconds": local["seconds"], "driver_peak_rss_gib": local["peak_rss_gib"],
                         "stages": stage_times(local["output"])}  # fmt: skip
        process, endpoint, s3 = _moto(args.data, data)
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)  # fmt: skip
        client = Client(cluster)
        try:
            s3_flags = f"--s3_endpoint_url={endpoint} --s3_access_key_id=bench --s3_secret_access_key=bench " \
                "--s3_region_name=us-east-1"  # fmt: skip
            for name, source, out, work in (
                ("dask", str(data), str(args.data / f"out_dask_{n}"), str(args.data / f"work_dask_{n}")),
                ("dask_s3", "s3://bench/records", "s3://bench/out", "s3://bench/work"),
            ):
                subprocess.run(["rm", "-rf", str(args.data / f"work_dask_{n}")], check=True)
                client.restart()
                flags = f"--runner=DaskRunner --dask_client_address={cluster.scheduler_address} {s3_flags}"
                argv = curate_args(source, out, backbone, cache)
                argv += ["--runner", "beam", "--work-dir", work, "--sample-per-cluster", str(n),
                         f"--beam-options={flags}"]  # fmt: skip
                result = run_child(argv)
                workers = sorted(client.run(_peak_rss_gib).values())
                runs[name] = {"seconds": result["seconds"], "driver_peak_rss_gib": result["peak_rss_gib"],
                              "worker_peak_rss_gib": [round(w, 3) for w in workers],
                              "stages": stage_times(result["output"])}  # fmt: skip
            expected = (args.data / f"out_local_{n}" / "scores.csv").read_bytes()
            same = {
                "dask": (args.data / f"out_dask_{n}" / "scores.csv").read_bytes() == expected,
                "dask_s3": s3.get_object(Bucket="bench", Key="out/scores.csv")["Body"].read() == expected,
            }
        finally:
            client.close()
            cluster.close()
            process.terminate()
        ratios = {f"{k}_over_local": round(runs[k]["seconds"] / runs["local"]["seconds"], 2) for k in same}
        rows.append({"images": n, **runs, "same_scores_csv": same, **ratios})
        for name, run in runs.items():
            print(f"{n} images, {name}: {run['seconds']:.1f} s, driver peak RSS {run['driver_peak_rss_gib']:.2f} GiB"
                  + (f", workers {run['worker_peak_rss_gib']} GiB" if "worker_peak_rss_gib" in run else "")
                  + f" ({run['stages']})")  # fmt: skip
        print(f"identical scores.csv: {same}")
    return {"rows": rows, "workers": args.workers, "runner": "DaskRunner on distributed.LocalCluster",
            "s3": "moto server on 127.0.0.1"}  # fmt: skip


PRUNE_CHILD = r"""
import json, resource, sys, threading, time
import numpy as np
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 2**20
peak_anon = [0.0]
def watch():
    while True:
        peak_anon[0] = max(peak_anon[0], status('RssAnon'))
        time.sleep(0.05)
threading.Thread(target=watch, daemon=True).start()
what, k = sys.argv[2], int(sys.argv[3])
X = np.load(sys.argv[1], mmap_mode='r' if what == 'disk' else None)
base = status('VmRSS')
started = time.perf_counter()
if what in ('memory', 'disk'):
    from edgeprune import prune
    kept = prune(sys.argv[1] if what == 'disk' else X, keep=0.5, clusters=k, normalize=True)
    info = {'kept': int(len(kept))}
else:
    from sklearn.cluster import KMeans
    m = int(sys.argv[4])
    sample = X[np.random.default_rng(0).choice(len(X), m, replace=False)]
    KMeans(k, n_init=1, random_state=0).fit(sample)
    info = {'sample': m}
seconds = time.perf_counter() - started
time.sleep(0.1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({'seconds': seconds, 'input_gib': X.nbytes / 2**30, 'rss_before_gib': base, 'peak_gib': peak,
                  'peak_rss_anon_gib': peak_anon[0], **info}))
"""


def bench_prune(args) -> dict:
    """prune of N x DIM float32 in memory (the baseline), from a memory-mapped .npy (fitted on 64 rows per cluster,
    scored a block at a time), and scikit-learn KMeans on a subsample, extrapolated; each in its own process."""
    path = args.data / f"embeddings_{args.n}x{args.dim}.npy"
    if not path.is_file():
        args.data.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(args.k, args.dim)).astype(np.float32)
        partial = path.with_name(path.name + ".partial")  # an interrupted run leaves no half-filled matrix
        X = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(args.n, args.dim))
        for start in range(0, args.n, 100_000):
            stop = min(args.n, start + 100_000)
            X[start:stop] = centres[rng.integers(0, args.k, stop - start)]
            X[start:stop] += rng.normal(scale=0.6, size=(stop - start, args.dim)).astype(np.float32)
        X.flush()
        del X
        partial.rename(path)

    def child(*extra):
        out = run_child([sys.executable, "-c", PRUNE_CHILD, str(path), *map(str, extra)],
                        env={"PYTHONPATH": str(REPO)})  # fmt: skip
        return json.loads(out["output"].strip().splitlines()[-1])

    result = {"n": args.n, "dim": args.dim, "k": args.k}
    for mode in args.modes.split(","):
        run = child(mode, args.k, args.sklearn_sample) if mode == "sklearn" else child(mode, args.k)
        result[mode] = run
        print(f"{mode}: {run['seconds']:.1f} s, peak RssAnon {run['peak_rss_anon_gib']:.2f} GiB "
              f"(input {run['input_gib']:.2f} GiB)")  # fmt: skip
    if "memory" in result and "disk" in result:
        result["disk_over_memory_seconds"] = round(result["disk"]["seconds"] / result["memory"]["seconds"], 2)
        print(f"from disk: {result['disk_over_memory_seconds']}x the time of in memory")
    if "sklearn" in result:
        estimate = result["sklearn"]["seconds"] * args.n / args.sklearn_sample
        result["sklearn_estimated_seconds"] = round(estimate, 1)
        result["sklearn_estimate"] = "linear extrapolation from the subsample"
        for mode in ("memory", "disk"):
            if mode in result:
                result[f"ratio_sklearn_over_{mode}"] = round(estimate / result[mode]["seconds"], 1)
    return result


def planted_embeddings(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of ``n`` unit rows shaped like image embeddings (5,000 clusters, a spectrum decaying as i^-0.75),
    centred together as ``leaks`` does; 1% of the later set are noisy copies of earlier rows, their similarities on
    both sides of 0.95."""
    rng = np.random.default_rng(seed)
    scale = (np.arange(1, dim + 1) ** -0.75).astype(np.float32)
    centres = rng.standard_normal((5000, dim), dtype=np.float32) * scale

    def draw(count: int) -> np.ndarray:
        return centres[rng.integers(0, 5000, count)] + rng.standard_normal((count, dim), dtype=np.float32) * scale

    earlier, later = draw(n), draw(n)
    copies = n // 100
    source = rng.choice(n, copies, replace=False)
    noise = rng.uniform(0.05, 0.5, (copies, 1)).astype(np.float32)
    later[:copies] = earlier[source] + noise * rng.standard_normal((copies, dim), dtype=np.float32) * scale
    return earlier, later


def _unit_centred(earlier: np.ndarray, later: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from edgeprune.vectors import center, l2_normalize

    both = l2_normalize(center(np.concatenate([earlier, later]))).astype(np.float32)
    return both[: len(earlier)], both[len(earlier) :]


def compare_flags(found, exact, threshold: float) -> dict:
    """Recall and precision of the flagged (query, nearest) pairs against brute force. A pair counts as the same
    where the nearest row is the same or scores the same (a near-tie in float32)."""
    ours = found.similarity >= threshold - 1e-6
    truth = exact.similarity >= threshold - 1e-6
    both = ours & truth
    same_pair = (found.index == exact.index) | (np.abs(found.similarity - exact.similarity) <= 1e-4)
    hits = int(np.count_nonzero(both & same_pair))
    return {
        "flagged_exact": int(truth.sum()),
        "flagged_bounded": int(ours.sum()),
        "recall": round(hits / max(1, int(truth.sum())), 5),
        "precision": round(hits / max(1, int(ours.sum())), 5),
        "max_similarity_difference_flagged": float(np.abs(found.similarity - exact.similarity)[both].max(initial=0)),
    }


def bench_leaks(args) -> dict:
    """The leak search (``threshold_search.bounded_search``) between two sets of ``--n`` rows against brute force
    (faiss's exact inner-product index when installed, else blocked numpy), at threshold 0.95. Generated rows, and
    with ``--real``, an embedding matrix split into alternate rows (video frames: near-copies everywhere)."""
    from edgeprune.cluster.kmeans import faiss_available
    from edgeprune.threshold_search import bounded_search, brute_force

    threshold = 0.95
    cases = {"generated": lambda: _unit_centred(*planted_embeddings(args.n, args.dim))}
    if args.real:
        real = lambda: _unit_centred(*(lambda a: (a[::2], a[1::2]))(np.load(args.real).astype(np.float32)))  # noqa: E731
        cases[f"real ({args.real.name})"] = real
    result = {"threshold": threshold, "baseline": "faiss IndexFlatIP" if faiss_available() else "numpy blocked"}
    for name, make in cases.items():
        earlier, later = make()
        started = time.perf_counter()
        found = bounded_search(later, earlier, threshold)
        bounded_s = time.perf_counter() - started
        started = time.perf_counter()
        exact = brute_force(later, earlier)
        exact_s = time.perf_counter() - started
        row = {
            "queries": len(later),
            "earlier": len(earlier),
            "dim": int(earlier.shape[1]),
            "bounded_seconds": round(bounded_s, 2),
            "brute_force_seconds": round(exact_s, 2),
            "speedup": round(exact_s / bounded_s, 1),
            "pairs_scored_in_full": found.candidates,
            **compare_flags(found, exact, threshold),
        }
        result[name] = row
        print(f"{name}: {row['queries']:,} x {row['earlier']:,} x {row['dim']}: bounded {bounded_s:.1f} s, "
              f"brute force {exact_s:.1f} s ({row['speedup']}x); flagged {row['flagged_bounded']} "
              f"vs {row['flagged_exact']}, recall {row['recall']}, precision {row['precision']}")  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("local", "beam", "prune", "dask", "leaks", "frames"))
    parser.add_argument("--images", default="10000,100000", help="dataset sizes (local, beam)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-rev", help="local: also curate the largest set with this git revision's code")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--sklearn-sample", type=int, default=50_000)
    parser.add_argument("--modes", default="memory,disk,sklearn", help="prune: memory, disk (memory-mapped), sklearn")
    parser.add_argument("--clusters", type=int, default=100, help="frames: curate's -k")
    parser.add_argument("--runtimes", default="tf,litert", help="frames: embed runtimes, the first pays pretraining")
    parser.add_argument("--real", type=Path, help="leaks: also an embedding matrix (.npy), split into alternate rows")
    parser.add_argument("--name", help="results file name (default: the part's)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/edgeprune-bench-scale"))
    args = parser.parse_args()
    args.images = [int(n) for n in args.images.split(",")]
    args.runtimes = args.runtimes.split(",")
    args.data.mkdir(parents=True, exist_ok=True)
    parts = {"local": bench_local, "beam": bench_beam, "prune": bench_prune, "dask": bench_dask, "leaks": bench_leaks,
             "frames": bench_frames}  # fmt: skip
    result = parts[args.part](args)
    result["machine"] = f"{os.cpu_count()} cores"
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{args.name or args.part}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
