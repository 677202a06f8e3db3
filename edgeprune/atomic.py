"""Atomic outputs, the one place where edgeprune renames results into place.

- :func:`atomic_output_dir`: a directory written into a hidden temporary sibling and renamed into place when the
  block succeeds (curate, convert). An interrupted or failed run leaves no partial output behind; an existing output
  is replaced only with ``overwrite=True`` and only after the new one is complete.
- :func:`partial_dir` + :func:`publish_dir`: a resumable work directory ``.<out>.partial`` (pretraining and
  train-export keep checkpoints there across interruptions), renamed into place once complete.
- :func:`atomic_file`: one file written to a unique temporary name and renamed over the target (result tables,
  the embedding cache; concurrent writers never see a half-written file).
"""

from __future__ import annotations

import contextlib
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
        raise EdgepruneError(f"{out}: output already exists; pass --overwrite to replace it")
    parent = out.resolve().parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise EdgepruneError(f"{out}: cannot write here ({existing} is not a directory)")
    if not os.access(existing, os.W_OK):
        raise EdgepruneError(f"{out}: cannot write here (no write permission on {existing})")


@contextlib.contextmanager
def atomic_output_dir(out: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``out`` when the block succeeds and vanishes when it fails."""
    out = Path(out)
    check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
