"""``--beam-options``: Beam pipeline flags, checked before any work so that a typo is not silently dropped."""

from __future__ import annotations

import shlex

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
