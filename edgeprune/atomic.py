"""Atomic outputs, the one place where edgeprune renames results into place.

- :func:`atomic_output_dir`: a directory written into a hidden temporary sibling and renamed into place when the
  block succeeds (curate, convert). An interrupted or failed run leaves no partial output behind; an existing output
  is replaced only with ``overwrite=True`` and only after the new one is complete.
- :func:`partial_dir` + :func:`publish_dir`: a resumable work directory ``.<out>.partial`` (pretraining and
  train-export keep checkpoints there across interruptions), renamed into place once complete.
- :func:`atomic_file`: one file written to a unique temporary name and renamed over the target (result tables,
  the embedding cache; concurrent writers never see a half-written file).

All three turn a full disk (``ENOSPC``, ``EDQUOT``) into a one-line :class:`EdgepruneError` naming the path, the space
free and the space needed (:func:`disk_full`), after removing what they had written; :func:`check_free_space` refuses
a write whose size is known before it starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

from .errors import EdgepruneError


def check_output_dir(out: Path, *, overwrite: bool) -> None:
    """Fail early (before any work) if ``out`` exists and may not be replaced, or its parent is not writable."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise EdgepruneError(f"{out}: output already exists; pass overwrite=True to replace it")
    parent = out.resolve().parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise EdgepruneError(f"{out}: cannot write here ({existing} is not a directory)")
    if not os.access(existing, os.W_OK):
        raise EdgepruneError(f"{out}: cannot write here (no write permission on {existing})")


FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def size_text(size: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def free_bytes(path: Path | str) -> tuple[Path, int]:
    """The nearest existing folder at or above ``path``, and the bytes free on its filesystem."""
    path = Path(path).absolute()
    where = next(p for p in (path, *path.parents) if p.exists())
    where = where if where.is_dir() else where.parent
    return where, shutil.disk_usage(where).free


def check_free_space(out: Path | str, needs: int) -> None:
    """Refuse to start writing ``needs`` bytes under ``out`` where its filesystem has less free."""
    where, free = free_bytes(out)
    if needs > free:
        raise EdgepruneError(
            f"{out}: needs about {size_text(needs)}, but {where} has {size_text(free)} free; free some space or "
            "write elsewhere"
        )


def disk_full(path: Path | str, exc: BaseException, written: int | None = None, needs: int | None = None):
    """The one-line error for a write into ``path`` that ``exc`` stopped, when ``exc`` is a full disk; else None."""
    if not isinstance(exc, OSError) or exc.errno not in FULL_DISK:
        return None
    where, free = free_bytes(path)
    done = f"{size_text(written)} written, " if written is not None else ""
    wanted = f", about {size_text(needs)} needed" if needs else ""
    return EdgepruneError(
        f"{path}: no space left on the device ({done}{size_text(free)} free on {where}{wanted}); free some space "
        "or write elsewhere"
    )


def tree_size(root: Path) -> int:
    """Bytes of the files under ``root``."""
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file() and not p.is_symlink())


@contextlib.contextmanager
def atomic_output_dir(out: Path, *, overwrite: bool = False, needs: int = 0) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``out`` when the block succeeds and vanishes when it fails.
    ``needs``: the bytes the block will write, where known, checked against the space free before it starts."""
    out = Path(out)
    check_output_dir(out, overwrite=overwrite)
    if needs:
        check_free_space(out, needs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    except BaseException as exc:
        written = tree_size(tmp) if isinstance(exc, OSError) else None
        shutil.rmtree(tmp, ignore_errors=True)
        full = disk_full(out, exc, written, needs)
        if full is not None:
            raise full from None
        raise
    publish_dir(tmp, out)


def partial_dir(out: Path) -> Path:
    """The resumable work directory of ``out``: ``.<name>.partial`` beside it."""
    out = Path(out)
    return out.with_name(f".{out.name}.partial")


def publish_dir(work: Path, out: Path) -> None:
    """Rename the finished directory ``work`` to ``out``, replacing an existing ``out`` only once ``work`` is in
    place (the old one is moved aside first and deleted last)."""
    work, out = Path(work), Path(out)
    if out.exists():
        backup = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, backup)
        os.replace(work, out)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(work, out)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; it replaces ``path`` when the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        full = disk_full(path, exc)
        if full is not None:
            raise full from None
        raise
    os.replace(tmp, path)
