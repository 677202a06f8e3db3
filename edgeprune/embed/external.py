"""Embeddings a user brings (``--embeddings FILE``) and the ones ``--save-embeddings`` writes, in one format.

A file holds one row per image (or per box) and a key that names it:

- ``.npz``: arrays ``keys`` (strings) and ``embeddings`` (``[N, D]`` numbers);
- ``.parquet``: a string column ``key`` and a list column ``embedding`` (pyarrow, which pandas users have).

Image keys are file names relative to the dataset root (``images/0001.jpg``, as ``scores.csv`` writes them) or
image ids; box keys are ``<image key>#<box index>``, the box's position in its image's annotation list. Rows may
come in any order; every image (or usable box) needs exactly one row, and the file may not name anything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EdgepruneError

FORMATS = (".npz", ".parquet")
KEY_COLUMN, VECTOR_COLUMN = "key", "embedding"


def _check_suffix(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise EdgepruneError(f"{path}: embeddings must be a .npz or .parquet file, got {path.suffix or 'no suffix'}")


def _first(names: Sequence[str], count: int = 3) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:count])
    return shown + (", ..." if len(names) > count else "")


def read_embeddings_file(path: Path | str) -> tuple[list[str], np.ndarray]:
    """``(keys, embeddings)`` as stored; a malformed file is an :class:`EdgepruneError` naming it."""
    path = Path(path)
    _check_suffix(path)
    if not path.is_file():
        raise EdgepruneError(f"{path}: embeddings file does not exist")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in ("keys", "embeddings") if k not in data.files]
                if missing:
                    raise EdgepruneError(f"{path}: needs arrays 'keys' and 'embeddings', found {sorted(data.files)}")
                keys, vectors = data["keys"], data["embeddings"]
        except EdgepruneError:
            raise
        except Exception as exc:  # not a zip, pickled objects, truncated
            raise EdgepruneError(f"{path}: not a readable .npz file ({str(exc).splitlines()[0]})") from None
    else:
        keys, vectors = _read_parquet(path)
    if keys.ndim != 1:
        raise EdgepruneError(f"{path}: 'keys' must be 1-D, got shape {keys.shape}")
    try:
        vectors = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise EdgepruneError(f"{path}: embeddings are not numbers (or rows differ in length)") from None
    if vectors.ndim != 2 or len(vectors) != len(keys) or vectors.shape[1] == 0:
        raise EdgepruneError(
            f"{path}: embeddings must be [N, D] with one row per key; got {vectors.shape} for {len(keys)} keys"
        )
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        raise EdgepruneError(
            f"{path}: {len(bad)} rows hold NaN or infinite values, e.g. {_first([str(keys[i]) for i in bad])}"
        )
    return [str(k) for k in keys], vectors


def _read_parquet(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise EdgepruneError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow), or use .npz") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise EdgepruneError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in (KEY_COLUMN, VECTOR_COLUMN) if c not in table.column_names]
    if missing:
        raise EdgepruneError(
            f"{path}: needs columns {KEY_COLUMN!r} and {VECTOR_COLUMN!r} (a list of numbers), "
            f"found {table.column_names}"
        )
    keys = np.array([str(k) for k in table.column(KEY_COLUMN).to_pylist()])
    rows = table.column(VECTOR_COLUMN).to_pylist()
    if any(r is None for r in rows) or len({len(r) for r in rows}) > 1:
        raise EdgepruneError(f"{path}: every {VECTOR_COLUMN!r} row must be a list of the same length")
    return keys, np.array(rows, dtype=np.float32).reshape(len(rows), -1)


def write_embeddings_file(path: Path | str, keys: Sequence[str], embeddings: np.ndarray) -> Path:
    """Write ``keys``/``embeddings`` as ``.npz`` or ``.parquet`` (by suffix); reading it back is exact."""
    path = Path(path)
    _check_suffix(path)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if path.suffix == ".npz":
        with path.open("wb") as fh:
            np.savez(fh, keys=np.array(list(keys), dtype=str), embeddings=embeddings)
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = pa.FixedSizeListArray.from_arrays(pa.array(embeddings.ravel(), pa.float32()), embeddings.shape[1])
    pq.write_table(pa.table({KEY_COLUMN: pa.array(list(keys), pa.string()), VECTOR_COLUMN: vectors}), path)
    return path


def image_keys(dataset) -> list[str]:
    """The key each image is saved under: its file name relative to the dataset root."""
    return [img.file_name for img in dataset.images]


def box_keys(dataset, image_index: np.ndarray, box_index: np.ndarray) -> list[str]:
    """``<file name>#<box index>`` for each crop."""
    names = image_keys(dataset)
    return [f"{names[i]}#{j}" for i, j in zip(image_index.tolist(), box_index.tolist())]


def align(
    path: Path | str,
    wanted: Sequence[str],
    aliases: Sequence[str] | None = None,
    ignorable: frozenset[str] | set[str] = frozenset(),
) -> np.ndarray:
    """The file's rows in the order of ``wanted`` (each row may also be named by the matching ``aliases`` entry,
    e.g. image ids); missing keys, or keys that are neither wanted nor ``ignorable`` (boxes too small to crop),
    are one error with their counts and the first offenders."""
    path = Path(path)
    keys, vectors = read_embeddings_file(path)
    position: dict[str, int] = {}
    duplicated = []
    for row, key in enumerate(keys):
        if key in position:
            duplicated.append(key)
        position[key] = row
    if duplicated:
        raise EdgepruneError(f"{path}: {len(duplicated)} keys appear more than once, e.g. {_first(duplicated)}")
    aliases = list(aliases) if aliases is not None else [None] * len(wanted)
    rows, missing = [], []
    for key, alias in zip(wanted, aliases):
        row = position.get(key, position.get(alias) if alias is not None else None)
        if row is None:
            missing.append(key)
        rows.append(row)
    used = {r for r in rows if r is not None}
    extra = [keys[r] for r in range(len(keys)) if r not in used and keys[r] not in ignorable]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of {len(wanted)} wanted keys are missing, e.g. {_first(missing)}")
        if extra:
            parts.append(f"{len(extra)} keys match nothing in the dataset, e.g. {_first(extra)}")
        raise EdgepruneError(f"{path}: " + "; ".join(parts) + " (keys are file names relative to the dataset root)")
    return vectors[np.array(rows, dtype=np.int64)]
