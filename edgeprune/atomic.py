"""Atomic output directories: everything is written into a hidden temporary sibling and renamed into place.

An interrupted or failed run leaves no partial output behind; an existing output is replaced only with
``overwrite=True`` and only after the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
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
    if out.exists():
        backup = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, backup)
        os.replace(tmp, out)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, out)
