"""An on-disk embedding cache keyed by image content hash, one directory per (backbone, input size, preprocessing).

Layout of a cache directory::

    embeddings.npy   float32 [rows, D], opened memory-mapped
    index.json       the content hash of each row
    chunk-*.npy/.json  rows written during a run, merged into the two files above by ``consolidate``

Chunks are written atomically as embedding goes along, so an interrupted run keeps what it finished and the next
run only embeds the rest. The cache is append-only: a run only adds chunks, and ``consolidate`` merges under an
exclusive lock (``.lock``, ``fcntl.flock``), re-reading everything inside the lock and deleting only the chunks it
merged, so two runs sharing a cache never lose each other's rows. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np

from ..atomic import atomic_file
from ..storage import blocks

EMBEDDINGS_NAME = "embeddings.npy"
INDEX_NAME = "index.json"


def _atomic_save(array: np.ndarray, keys: list[str], npy_path: Path, json_path: Path) -> None:
    with atomic_file(npy_path) as tmp, tmp.open("wb") as fh:
        np.save(fh, array)
    with atomic_file(json_path) as tmp:
        tmp.write_text(json.dumps(keys))


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (created if needed) for the block."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class EmbeddingCache:
    """Rows of embeddings stored under ``root / key``; look up by content hash, add in chunks, consolidate.

    Only ``embeddings.npy`` stays mapped; a chunk is opened when its rows are read and closed after, so a run of a
    million images (15,000 chunks of a batch each) never holds more than a few files open (a default ``ulimit -n``
    is 1,024) nor its rows in memory.
    """

    def __init__(self, root: Path, key: str) -> None:
        self.directory = Path(root) / key
        self._rows: dict[str, tuple[np.ndarray | Path, int]] = {}  # the merged map's row, or a chunk file's
        self._chunks: list[Path] = []  # the chunk files read by _load
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._chunks = []
        if not self.directory.is_dir():
            return
        sources = [(self.directory / EMBEDDINGS_NAME, self.directory / INDEX_NAME)]
        sources += [(p, p.with_suffix(".json")) for p in sorted(self.directory.glob("chunk-*.npy"))]
        for npy_path, json_path in sources:
            if not (npy_path.is_file() and json_path.is_file()):
                continue
            try:
                array = np.load(npy_path, mmap_mode="r")
                keys = json.loads(json_path.read_text())
            except (ValueError, OSError):
                continue  # a damaged cache file is only a cache miss
            if array.ndim != 2 or len(keys) != len(array):
                continue
            source = array
            if npy_path.name.startswith("chunk-"):
                self._chunks.append(npy_path)
                source = npy_path  # the map (and its file descriptor) goes when ``array`` does
            for row, key in enumerate(keys):
                self._rows[key] = (source, row)

    def __len__(self) -> int:
        self._load()
        return len(self._rows)

    def lookup(self, keys: list[str]) -> tuple[dict[int, np.ndarray], list[int]]:
        """``({position: embedding} for the keys found, [positions of keys not cached])``."""
        self._load()
        found, missing, chunks = {}, [], {}
        for position, key in enumerate(keys):
            hit = self._rows.get(key)
            if hit is None:
                missing.append(position)
                continue
            source, row = hit
            if isinstance(source, Path):
                if source not in chunks:
                    chunks[source] = np.load(source)
                source = chunks[source]
            found[position] = np.asarray(source[row])
        return found, missing

    def add(self, keys: list[str], embeddings: np.ndarray) -> None:
        """Store rows as a new chunk, atomically."""
        if not keys:
            return
        embeddings = np.asarray(embeddings, dtype=np.float32)
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = self.directory / f"chunk-{uuid.uuid4().hex}"
        chunk = stem.with_suffix(".npy")
        _atomic_save(embeddings, list(keys), chunk, stem.with_suffix(".json"))
        for row, key in enumerate(keys):
            self._rows[key] = (chunk, row)  # on disk, not a copy in memory

    def consolidate(self) -> None:
        """Merge the chunks into one memory-mappable ``embeddings.npy`` and ``index.json``, under the cache lock;
        chunks another run adds meanwhile are left for the next merge."""
        if not self.directory.is_dir():
            return
        with _exclusive(self.directory / ".lock"):
            self._rows, self._loaded = {}, False
            self._load()  # everything on disk now, including other runs' chunks
            merged = list(self._chunks)
            if merged:
                self._merge()
                for chunk in merged:
                    chunk.unlink(missing_ok=True)
                    chunk.with_suffix(".json").unlink(missing_ok=True)
        self._rows, self._chunks, self._loaded = {}, [], False

    def _merge(self) -> None:
        """Write every loaded row to ``embeddings.npy`` (and its keys to ``index.json``) atomically, one source file
        at a time, a block of rows at a time from the mapped one, so a merge never holds the matrix in memory."""
        keys = list(self._rows)
        by_source: dict[Path | int, tuple[np.ndarray | Path, list[int], list[int]]] = {}
        for position, (source, row) in enumerate(self._rows.values()):
            entry = by_source.setdefault(source if isinstance(source, Path) else id(source), (source, [], []))
            entry[1].append(position)
            entry[2].append(row)
        first = next(iter(by_source.values()))[0]
        dim = (np.load(first, mmap_mode="r") if isinstance(first, Path) else first).shape[1]
        with atomic_file(self.directory / EMBEDDINGS_NAME) as tmp:
            merged = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(keys), dim))
            for source, positions, rows in by_source.values():
                array = np.load(source) if isinstance(source, Path) else source
                positions, rows = np.asarray(positions), np.asarray(rows)
                for part in blocks(len(rows), dim * 4):
                    merged[positions[part]] = array[rows[part]]
            merged.flush()
            del merged
        with atomic_file(self.directory / INDEX_NAME) as tmp:
            tmp.write_text(json.dumps(keys))
