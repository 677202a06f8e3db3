"""Where edgeprune keeps data between runs, and matrices too large to keep in memory.

- :func:`default_cache_root`: ``$EDGEPRUNE_CACHE`` or ``~/.cache/edgeprune`` (backbones, embeddings, frames).
- :func:`empty_rows`: a float matrix to fill a block at a time. Up to :func:`spill_bytes` it is an ordinary array;
  above, it is a memory-mapped scratch file in ``<cache root>/scratch`` (``$EDGEPRUNE_SCRATCH`` overrides) that is
  unlinked as soon as it is opened, so it vanishes with the last reference and never outlives the process. Its pages
  are file-backed: the kernel writes them to disk under memory pressure instead of holding them as anonymous memory.
  A million 1,280-d embeddings are 4.8 GiB; spilled, a curate run of them stays within a few GiB of anonymous memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .atomic import free_bytes, size_text
from .errors import EdgepruneError

SPILL_MIB = 256  # default: larger matrices spill to a scratch file (``$EDGEPRUNE_SPILL_MIB`` overrides)
BLOCK_BYTES = 16 << 20  # a matrix read or written a block at a time: bytes of rows per block


def default_cache_root() -> Path:
    """``$EDGEPRUNE_CACHE`` or ``~/.cache/edgeprune``."""
    return Path(os.environ.get("EDGEPRUNE_CACHE", Path.home() / ".cache" / "edgeprune"))


def scratch_dir() -> Path:
    """Where spilled matrices live while a process uses them: ``$EDGEPRUNE_SCRATCH`` or ``<cache root>/scratch``."""
    return Path(os.environ.get("EDGEPRUNE_SCRATCH", default_cache_root() / "scratch"))


def spill_bytes() -> int:
    """Matrices larger than this many bytes spill to a scratch file: ``$EDGEPRUNE_SPILL_MIB`` (default 256) MiB."""
    value = os.environ.get("EDGEPRUNE_SPILL_MIB", str(SPILL_MIB))
    try:
        return int(float(value) * 2**20)
    except ValueError:
        raise EdgepruneError(f"EDGEPRUNE_SPILL_MIB={value!r}: expected a number of MiB, e.g. 256") from None


def empty_rows(n_rows: int, dim: int, dtype=np.float32) -> np.ndarray:
    """An uninitialised ``[n_rows, dim]`` matrix: in memory when small, else a file-backed scratch memmap."""
    dtype = np.dtype(dtype)
    size = int(n_rows) * int(dim) * dtype.itemsize
    if size <= spill_bytes() or n_rows == 0 or dim == 0:
        return np.empty((n_rows, dim), dtype)
    directory = scratch_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        message = f"{directory}: cannot hold scratch files ({exc.strerror}); set EDGEPRUNE_SCRATCH"
        raise EdgepruneError(message) from None
    _, free = free_bytes(directory)
    if size > free:
        raise EdgepruneError(
            f"{directory}: a {size_text(size)} scratch matrix does not fit in the {size_text(free)} "
            "free there; set EDGEPRUNE_SCRATCH to a folder with room"
        )
    with tempfile.TemporaryFile(dir=directory, prefix="rows-") as handle:  # unlinked at once; the map keeps it
        handle.truncate(size)
        return np.memmap(handle, dtype=dtype, mode="w+", shape=(n_rows, dim))


def blocks(n_rows: int, row_bytes: int):
    """``slice`` objects covering ``range(n_rows)`` in blocks of about :data:`BLOCK_BYTES` (rows of
    ``row_bytes`` each; one row at least)."""
    size = max(1, BLOCK_BYTES // max(1, int(row_bytes)))
    for start in range(0, n_rows, size):
        yield slice(start, min(n_rows, start + size))
