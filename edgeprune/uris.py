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


_S3: dict = {}  # this process's filesystem options and its one S3 client
READ_BUFFER = 1 << 20


def use_filesystem_options(beam_options) -> None:
    """Give Beam's ``FileSystems`` (and :func:`open_uri`) a run's options: S3 endpoint, region and credentials. The
    driver calls it once; the workers call it before their first file (None: keep what is set)."""
    from apache_beam.io.filesystems import FileSystems

    if beam_options is None or _S3.get("options") is beam_options:
        return
    FileSystems.set_options(beam_options)
    _S3.clear()
    _S3["options"] = beam_options


def open_uri(path: str, mode: str = "rb"):
    """A binary file object for reading (``rb``) or writing (``wb``) a local path or a URI, through Beam's
    filesystems. ``s3://`` objects go through one ``S3IO`` client per process: Beam's S3 filesystem builds a new
    boto3 client for every file it opens (about 0.3 s each), which made a 364-image run spend minutes on it."""
    from apache_beam.io.filesystems import FileSystems

    if path.startswith("s3://") and "options" in _S3:
        if "io" not in _S3:
            from apache_beam.io.aws.s3io import S3IO

            _S3["io"] = S3IO(options=_S3["options"])
        if mode == "rb":  # Beam reads ahead 16 MiB by default: a whole TFRecord shard for one example
            return _S3["io"].open(path, mode, read_buffer_size=READ_BUFFER)
        return _S3["io"].open(path, mode)
    if mode == "rb":
        return FileSystems.open(path, compression_type="uncompressed")
    return FileSystems.create(path, compression_type="uncompressed")
