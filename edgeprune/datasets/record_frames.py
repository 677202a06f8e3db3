"""TFRecord framing without TensorFlow: each record is a frame of ``uint64`` length, the length's masked CRC-32C, the
data and the data's masked CRC-32C (all little-endian), as ``tf.io.TFRecordWriter`` writes them.

Reading frames here, checksums verified with ``google-crc32c`` (C, several GB/s), lets a process read a shard without
importing TensorFlow (seconds and hundreds of MB per worker), and copying them lets a pruned shard be the kept frames
byte for byte.
"""

from __future__ import annotations

import errno
import itertools
import os
import struct
from pathlib import Path
from typing import Iterator

import google_crc32c

from ..errors import EdgepruneError
from .types import RECORD_FRAME, RECORD_HEADER, RecordRef, frame_runs

_MASK_DELTA = 0xA282EAD8
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM}


def masked_crc(data: bytes) -> int:
    """The masked CRC-32C a TFRecord frame stores for ``data`` (rotated right by 15 bits plus a constant)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_frames(path: Path | str, *, buffer_size: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
    """``(offset, data)`` of every record in the TFRecord file ``path``, in order; a frame cut short or a checksum
    that does not match raises :class:`EdgepruneError` naming the file and the byte where it happened."""
    with open(path, "rb", buffering=buffer_size) as handle:
        offset = 0
        while header := handle.read(RECORD_HEADER):
            if len(header) < RECORD_HEADER:
                raise _corrupt(path, offset, "the file ends inside a record's header")
            length, length_crc = struct.unpack("<QI", header)
            if masked_crc(header[:8]) != length_crc:
                raise _corrupt(path, offset, "the length's checksum does not match")
            data = handle.read(length)
            footer = handle.read(4)
            if len(data) < length or len(footer) < 4:
                raise _corrupt(path, offset, f"the file ends inside a record of {length} bytes")
            if masked_crc(data) != struct.unpack("<I", footer)[0]:
                raise _corrupt(path, offset, "the data's checksum does not match")
            yield offset, data
            offset += RECORD_FRAME + length


def _corrupt(path: Path | str, offset: int, what: str) -> EdgepruneError:
    return EdgepruneError(f"{path}: corrupt TFRecord (record at byte {offset}: {what})")


def copy_frames(refs: list[RecordRef], out: Path) -> None:
    """Write a TFRecord file of the frames of ``refs`` exactly as they lie in their files (a record the writer would
    frame anew is framed identically: length, masked CRC-32C of the length, data, masked CRC-32C of the data)."""
    with open(out, "wb", buffering=0) as target:
        for file, runs in itertools.groupby(frame_runs(refs), key=lambda run: run[0]):
            with open(file, "rb", buffering=0) as source:
                for _, start, end in runs:
                    _append_range(source, target, start, end)


def _append_range(source, target, start: int, end: int) -> None:
    """Append bytes ``[start, end)`` of the open file ``source`` to ``target``: in the kernel (``copy_file_range``)
    where the OS and the two file systems allow it, else through a buffer."""
    position = start
    copy_range = getattr(os, "copy_file_range", None)
    while position < end:
        copied = -1
        if copy_range is not None:
            try:
                copied = copy_range(source.fileno(), target.fileno(), end - position, position)
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE:
                    raise
                copy_range = None
        if copied < 0:
            source.seek(position)
            copied = target.write(source.read(min(end - position, 1 << 24)))
        if copied == 0:
            raise EdgepruneError(f"{source.name}: ends before byte {end}; was it changed while being read?")
        position += copied
