"""Reading TFRecord shards in worker processes: one per core, each a fresh ``python -m`` of this module that reads
its shards with :func:`~edgeprune.datasets.tfrecord_shard.read_shard` and sends back what it read, pickled.

Reading a shard is Python work (parsing each example, hashing and probing its image): about 0.3 ms a record on one
core, 5 minutes for a million frames. Workers split the shards between the cores. They are started with
``subprocess``, not ``multiprocessing``, so a user's script is never imported again in a child, and they never import
TensorFlow (:mod:`~edgeprune.datasets.record_frames`, :mod:`~edgeprune.datasets.example_proto`): a worker starts in
about a second, in tens of MB.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..errors import EdgepruneError
from ..progress import progress
from .types import Category

PARALLEL_MIN_BYTES = 256 << 20  # below this a second process costs more than it saves


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(files: list[Path]) -> int:
    """How many processes should read ``files``: one per core (at most one per file), or 1 for less than
    :data:`PARALLEL_MIN_BYTES`."""
    if len(files) < 2 or sum(f.stat().st_size for f in files) < PARALLEL_MIN_BYTES:
        return 1
    return min(len(files), usable_cores())


def read_shards(files: list[Path], known: dict[int, Category], processes: int) -> list:
    """:class:`~edgeprune.datasets.tfrecord_shard.ShardRead` of every file, in order, read by ``processes`` workers
    (file ``i`` by worker ``i % processes``, each starting from ``known``). The first error a worker meets stops
    them all and is raised here."""
    results: dict[int, object] = {}
    arrived: queue.Queue = queue.Queue()
    with tempfile.TemporaryDirectory(prefix="edgeprune-read-") as scratch:
        workers = [_start(files, known, worker, processes, Path(scratch)) for worker in range(processes)]
        try:
            threads = [threading.Thread(target=_receive, args=(proc, arrived), daemon=True) for proc, _ in workers]
            for thread in threads:
                thread.start()
            error, running = None, len(workers)
            with progress(len(files), "reading", "shard") as bar:
                while running:
                    item = arrived.get()
                    if item is None:
                        running -= 1
                        continue
                    index, read = item
                    if isinstance(read, str):  # the worker's EdgepruneError: stop everyone
                        error = error or read
                        _stop(workers)
                        continue
                    results[index] = read
                    bar.update(1)
            for thread in threads:
                thread.join()
        finally:  # an interrupt (Ctrl-C) or an error here leaves no worker running
            _stop(workers)
        failures = [_failure(proc, stderr) for proc, stderr in workers]
    if error is not None:
        raise EdgepruneError(error)
    if len(results) < len(files):
        raise RuntimeError("a TFRecord reading worker stopped: " + next((f for f in failures if f), "no message"))
    return [results[index] for index in range(len(files))]


def _start(files: list[Path], known, worker: int, processes: int, scratch: Path):
    """Start worker ``worker`` on its share of ``files``; returns the process and its stderr file."""
    jobs = [(index, str(file)) for index, file in enumerate(files) if index % processes == worker]
    stderr = scratch / f"worker-{worker}.err"
    with open(stderr, "wb") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=_worker_environment(),
        )
    pickle.dump((jobs, known), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    proc.stdin.close()
    return proc, stderr


def _worker_environment() -> dict[str, str]:
    """This process's environment, plus the folder holding this edgeprune on ``PYTHONPATH`` unless it is an installed
    package's (``site-packages``, which a fresh interpreter searches anyway, after the standard library: put first,
    it could shadow it), so a worker imports the same edgeprune from a checkout or a path a script added."""
    root = Path(__file__).resolve().parents[2]
    if root.name in ("site-packages", "dist-packages"):
        return dict(os.environ)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}


def _stop(workers) -> None:
    for proc, _ in workers:
        if proc.poll() is None:
            proc.kill()


def _receive(proc: subprocess.Popen, arrived: queue.Queue) -> None:
    """Put each ``(index, ShardRead or error message)`` a worker sends on ``arrived``, then None."""
    try:
        while True:
            arrived.put(pickle.load(proc.stdout))
    except (EOFError, pickle.UnpicklingError, OSError):
        pass
    finally:
        arrived.put(None)


def _failure(proc: subprocess.Popen, stderr: Path) -> str:
    """How a worker ended, when not well: the signal that killed it (the out-of-memory killer's, or ours after
    another worker's error), or its exit code and the last line it wrote to stderr; "" when it finished."""
    code = proc.wait()
    if code == 0:
        return ""
    if code < 0:
        return f"killed by signal {-code}"
    lines = stderr.read_text(errors="replace").strip().splitlines()
    return f"exit code {code}: {lines[-1] if lines else 'no output'}"


def _serve() -> None:
    """A worker: read the shards named on stdin, send each one's reading (or the first error) on stdout."""
    from .tfrecord_shard import read_shard

    jobs, known = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    for index, file in jobs:
        try:
            read = read_shard(Path(file), index, known)
        except EdgepruneError as exc:
            pickle.dump((index, str(exc)), out)
            out.flush()
            return
        pickle.dump((index, read), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    _serve()
