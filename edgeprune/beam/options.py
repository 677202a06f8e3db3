"""``--beam-options``: Beam pipeline flags, checked before any work so that a typo is not silently dropped."""

from __future__ import annotations

import contextlib
import shlex
from typing import Iterator

from ..errors import EdgepruneError

DEFAULT_FLAGS = ("--runner=FnApiRunner",)  # in-process; DirectRunner first tries to download the Prism binary


def require_beam() -> None:
    """A clear error when Apache Beam is not installed."""
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        raise EdgepruneError("--runner beam needs Apache Beam: pip install 'edgeprune[beam]'") from None


def pipeline_options(text: str | None):
    """``PipelineOptions`` from a flag string (``"--runner=DataflowRunner --project=p"``); default: the in-process
    FnApiRunner. Unknown flags or a bad value are an :class:`EdgepruneError` naming them."""
    require_beam()
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, _BeamArgumentParser

    try:
        flags = shlex.split(text) if text else list(DEFAULT_FLAGS)
    except ValueError as exc:
        raise EdgepruneError(f"--beam-options: {exc}") from None
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    try:
        _, unknown = parser.parse_known_args(flags)
    except (SystemExit, ValueError) as exc:
        raise EdgepruneError(f"--beam-options {text!r}: a flag has a bad value ({exc})") from None
    if unknown:
        raise EdgepruneError(f"--beam-options: unknown Beam flags {' '.join(unknown)}")
    options = PipelineOptions(flags)
    runner = options.view_as(StandardOptions).runner
    if runner and runner.split(".")[-1] not in StandardOptions.KNOWN_RUNNER_NAMES and "." not in runner:
        raise EdgepruneError(
            f"--beam-options: unknown runner {runner!r}; known: {', '.join(StandardOptions.KNOWN_RUNNER_NAMES)}"
        )
    return options


@contextlib.contextmanager
def run_pipeline(name: str, beam_options) -> Iterator:
    """A Beam pipeline that runs on leaving the block; a failure becomes an :class:`EdgepruneError` naming the
    stage (the finished stages stay in the work dir, and a rerun resumes after them)."""
    import apache_beam as beam

    from ..quiet import beam_logs_to_debug

    try:
        with beam_logs_to_debug(), beam.Pipeline(options=beam_options) as p:
            yield p
    except EdgepruneError:
        raise
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise EdgepruneError(
            f"beam stage {name} failed ({type(exc).__name__}: {lines[-1] if lines else 'no message'}); the finished "
            "stages stay in --work-dir and a rerun resumes after them"
        ) from exc
