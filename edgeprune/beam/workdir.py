"""The work directory of a Beam curation: one folder per stage and fingerprint, finished when ``_SUCCESS`` is in it.

Paths are strings handled by Beam's ``FileSystems``, so the work directory can be local or any Beam filesystem URI
(``gs://``, ``s3://``, ``hdfs://``).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from apache_beam.io.filesystems import FileSystems

from ..uris import open_uri

SUCCESS = "_SUCCESS"


def fingerprint(*parts: Any) -> str:
    """A short stable digest of JSON-serialisable settings."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def join(*parts: str) -> str:
    """Join path parts with Beam's filesystem rules (local paths or URIs)."""
    return FileSystems.join(*parts)


def write_bytes(path: str, data: bytes) -> None:
    """Write a small file (``FileSystems``; a rerun overwrites it)."""
    with open_uri(path, "wb") as handle:
        handle.write(data)


def read_bytes(path: str) -> bytes:
    """Read a small file."""
    with open_uri(path) as handle:
        return handle.read()


def write_array(path: str, array: np.ndarray) -> None:
    """Save a ``.npy`` file on any Beam filesystem."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes(path, buffer.getvalue())


def read_array(path: str) -> np.ndarray:
    """Load a ``.npy`` file written by :func:`write_array`."""
    return np.load(io.BytesIO(read_bytes(path)))


def matching(pattern: str) -> list[str]:
    """The files matching a glob pattern, sorted."""
    found = FileSystems.match([pattern])[0].metadata_list
    return sorted(m.path for m in found)


@dataclass
class Stage:
    """One stage's folder: ``<work dir>/<name>-<fingerprint>``."""

    name: str
    path: str
    key: str
    reused: bool = False  # set when a finished folder was found and the stage skipped

    def file(self, name: str) -> str:
        """A path inside the stage folder."""
        return join(self.path, name)

    @property
    def done(self) -> bool:
        """True when the stage finished (its ``_SUCCESS`` marker exists)."""
        return FileSystems.exists(self.file(SUCCESS))

    def reset(self) -> None:
        """Remove what an unfinished earlier attempt left, so the stage starts clean."""
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])

    def finish(self, info: dict[str, Any] | None = None) -> None:
        """Write the ``_SUCCESS`` marker (last: everything else of the stage is written before)."""
        write_bytes(self.file(SUCCESS), json.dumps({"stage": self.name, "key": self.key, **(info or {})}).encode())

    def info(self) -> dict[str, Any]:
        """What :meth:`finish` recorded."""
        return json.loads(read_bytes(self.file(SUCCESS)))


class WorkDir:
    """The stages of one work directory."""

    def __init__(self, root: str) -> None:
        from ..quiet import beam_logs_to_debug
        from .remote import refused

        self.root = str(root)
        try:
            with beam_logs_to_debug():
                if not FileSystems.exists(self.root):
                    FileSystems.mkdirs(self.root)
        except Exception as exc:  # noqa: BLE001 - a missing bucket, refused credentials, a read-only folder
            raise refused("--work-dir", self.root, exc) from None

    def stage(self, name: str, *settings: Any) -> Stage:
        """The folder for stage ``name`` with these settings (a change of any setting is a new folder): marked
        ``reused`` when it finished before, else emptied of what an unfinished attempt left, ready to run."""
        key = fingerprint(name, *settings)
        stage = Stage(name, join(self.root, f"{name}-{key}"), key)
        stage.reused = stage.done
        if not stage.reused:
            stage.reset()
        return stage
