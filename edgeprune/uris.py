"""Local paths and Beam filesystem URIs (``s3://bucket/key``, ``gs://bucket/key``) side by side: ``pathlib`` would
fold a URI's ``//``, so a URI stays a string."""

from __future__ import annotations

from pathlib import Path


def is_uri(path: object) -> bool:
    """True for a filesystem URI (``scheme://...``), False for a local path."""
    return "://" in str(path)


def path_or_uri(text: str | Path) -> Path | str:
    """A command-line location: a ``Path``, or the URI string unchanged."""
    return str(text) if is_uri(text) else Path(text)
