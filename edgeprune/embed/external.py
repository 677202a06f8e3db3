"""Embeddings a user brings (``--embeddings FILE``) and the ones ``--save-embeddings`` writes, in one format.

A file holds one row per image (or per box) and a key that names it:

- ``.npz``: arrays ``keys`` (strings) and ``embeddings`` (``[N, D]`` numbers);
- ``.parquet``: a string column ``key`` and a list column ``embedding`` (pyarrow, which pandas users have).

An image key is any name a script would write for the image (:mod:`edgeprune.embed.keys`: the path relative to the
dataset root, the annotations' name, the bare file name when unique, an absolute path, the image id); box keys are
``<image key>#<box index>``, the box's position in its image's annotation list. Rows may come in any order; every
image (or usable box) needs exactly one row; rows for images outside the data being read are skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EdgepruneError
from .keys import KeyIndex, resolve_keys

log = logging.getLogger(__name__)

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
    """The key each image is saved under (``--save-embeddings``): its file name as the annotations give it."""
    return [img.file_name for img in dataset.images]


def box_keys(dataset, image_index: np.ndarray, box_index: np.ndarray) -> list[str]:
    """``<file name>#<box index>`` for each crop."""
    names = image_keys(dataset)
    return [f"{names[i]}#{j}" for i, j in zip(image_index.tolist(), box_index.tolist())]


def align(
    path: Path | str,
    groups: Sequence[tuple[object, Sequence[object]]],
    *,
    images: bool = True,
    boxes: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """The file's rows in order: one per image of ``groups`` (``(dataset, its images)`` pairs, positions counted
    across them) when ``images``, then one per ``(image position, box index)`` of ``boxes``.

    Keys take any form of :mod:`edgeprune.embed.keys`. Keys that name nothing here (images of another split, boxes
    too small to crop) are skipped with one log line; a missing row, an ambiguous key or two keys for one image is
    one error with examples."""
    path = Path(path)
    keys, vectors = read_embeddings_file(path)
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    if repeated:
        raise EdgepruneError(f"{path}: {len(repeated)} keys appear more than once, e.g. {_first(repeated)}")
    index = KeyIndex.build(groups)
    named = [img for _, group in groups for img in group]
    image_rows: dict[int, int] = {}
    box_rows: dict[tuple[int, int], int] = {}
    skipped = []
    for row, (key, target) in enumerate(zip(keys, resolve_keys(keys, index))):
        if target is None:
            skipped.append(key)
            continue
        position, box = target
        rows, slot = (image_rows, position) if box is None else (box_rows, (position, box))
        if slot in rows:
            raise EdgepruneError(
                f"{path}: keys {keys[rows[slot]]!r} and {key!r} both name {named[position].file_name}"
                f"{'' if box is None else f' box {box}'}; give each image one row, in one key form"
            )
        rows[slot] = row
    wanted_boxes = set(map(tuple, boxes))
    skipped += [keys[row] for slot, row in box_rows.items() if slot not in wanted_boxes]
    order = list(range(len(named))) if images else []
    missing = [named[p].file_name for p in order if p not in image_rows]
    missing += [f"{named[p].file_name}#{b}" for p, b in boxes if (p, b) not in box_rows]
    if missing:
        wanted = len(order) + len(boxes)
        also = f"; {len(skipped)} keys name nothing here, e.g. {_first(skipped)}" if skipped else ""
        raise EdgepruneError(
            f"{path}: {len(missing)} of {wanted} images or boxes have no row, e.g. {_first(missing)}{also}. "
            + index.help()
        )
    if skipped:
        log.info(
            "%s: %d keys name no image or box of the data being read (another split?); skipped, e.g. %s",
            path, len(skipped), _first(skipped),
        )  # fmt: skip
    rows = [image_rows[p] for p in order] + [box_rows[(p, b)] for p, b in boxes]
    return vectors[np.array(rows, dtype=np.int64)]
