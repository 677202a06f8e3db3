"""A quiet console: what TensorFlow's native code prints goes to the log, not the terminal, unless asked for.

The TFLite converter and TensorFlow's C++ runtime write straight to file descriptors 1 and 2 (absl ``W0000 ...``
lines, ``fully_quantize: 0, inference_type: 6 ...``), past Python's ``logging``. :func:`native_output_to_log`
points both descriptors at a temporary file for the duration of a block and replays what was written as DEBUG
log records; :func:`stdout_to_log` does the same for Python code that prints (Orbit's trainer). ``edgeprune -v``
turns both off (:func:`show_native_output`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from typing import Iterator

log = logging.getLogger("edgeprune.native")
_show = {"native": False}


def show_native_output(show: bool) -> None:
    """Let native output through (``-v``) or capture it (the default)."""
    _show["native"] = show


@contextlib.contextmanager
def native_output_to_log() -> Iterator[None]:
    """Capture what native code writes to stdout/stderr inside the block; replay it as DEBUG log lines."""
    if _show["native"]:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.debug("%s", line)


class _LogWriter(io.TextIOBase):
    """A text stream whose lines become DEBUG log records."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                log.debug("%s", line)
        return len(text)


@contextlib.contextmanager
def stdout_to_log() -> Iterator[None]:
    """Send what Python code prints to stdout inside the block (Orbit's trainer prints every step summary) to the
    log as DEBUG lines, unless native output is shown (``-v``). Progress bars write to stderr and stay visible."""
    if _show["native"]:
        yield
        return
    with contextlib.redirect_stdout(_LogWriter()):
        yield


class _FromBeam(logging.Filter):
    """Drops records Apache Beam's code logs (through its own loggers or the root logger) below ``CRITICAL``."""

    def filter(self, record: logging.LogRecord) -> bool:
        from_beam = record.name.startswith("apache_beam") or f"{os.sep}apache_beam{os.sep}" in record.pathname
        return not from_beam or record.levelno >= logging.CRITICAL


@contextlib.contextmanager
def beam_logs_to_debug() -> Iterator[None]:
    """Keep Beam's worker chatter (memory-monitor warnings, the traceback of a failed bundle, which edgeprune turns
    into one error line) off the console inside the block, unless ``-v`` asked for native output."""
    if _show["native"]:
        yield
        return
    beam_filter = _FromBeam()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(beam_filter)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(beam_filter)
