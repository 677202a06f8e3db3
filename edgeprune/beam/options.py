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


DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


def known_runners() -> dict[str, str]:
    """Every runner Beam ships, by lower-case short name (with and without ``Runner``) -> class path: Beam's own
    list, plus the Dask runner, which Beam ships but does not list."""
    from apache_beam.options.pipeline_options import StandardOptions

    paths = (*StandardOptions.ALL_KNOWN_RUNNERS, DASK_RUNNER)
    names = {path.rsplit(".", 1)[-1].lower(): path for path in paths}
    return names | {name.removesuffix("runner"): path for name, path in names.items()}


def _runner_path(runner: str) -> str:
    """The class path of a ``--runner`` value; an unknown short name is an :class:`EdgepruneError`."""
    if "." in runner:
        return runner
    path = known_runners().get(runner.lower())
    if path is None:
        shown = sorted({p.rsplit(".", 1)[-1] for p in known_runners().values()})
        raise EdgepruneError(f"--beam-options: unknown runner {runner!r}; known: {', '.join(shown)}")
    return path


def _register_dask_options(runner: str) -> None:
    """Import the Dask runner, so that its ``--dask_*`` flags are known; a clear error when Dask is missing."""
    try:
        import apache_beam.runners.dask.dask_runner  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        if runner == DASK_RUNNER:
            raise EdgepruneError("--runner=DaskRunner needs Dask: pip install 'edgeprune[dask]'") from None


def _flag_value(flags: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in ``flags`` (the last one wins), else None."""
    value = None
    for position, flag in enumerate(flags):
        if flag.startswith(f"--{name}="):
            value = flag.split("=", 1)[1]
        elif flag == f"--{name}" and position + 1 < len(flags):
            value = flags[position + 1]
    return value


def _without(flags: list[str], name: str) -> list[str]:
    """``flags`` less every ``--name=value`` and ``--name value``."""
    kept, skip = [], False
    for flag in flags:
        if skip:
            skip = False
        elif flag == f"--{name}":
            skip = True
        elif not flag.startswith(f"--{name}="):
            kept.append(flag)
    return kept


def pipeline_options(text: str | None):
    """``PipelineOptions`` from a flag string (``"--runner=DaskRunner --dask_client_address=tcp://h:8786"``).

    Default: the in-process FnApiRunner, also when the flags name no runner. A runner may be named by its short name
    (any runner Beam ships, Dask included). Unknown flags, a bad value or an unknown runner are an
    :class:`EdgepruneError` naming them."""
    require_beam()
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    try:
        flags = shlex.split(text) if text else list(DEFAULT_FLAGS)
    except ValueError as exc:
        raise EdgepruneError(f"--beam-options: {exc}") from None
    runner = _runner_path(_flag_value(flags, "runner") or "FnApiRunner")
    _register_dask_options(runner)
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    try:
        _, unknown = parser.parse_known_args(flags)
    except (SystemExit, ValueError) as exc:
        raise EdgepruneError(f"--beam-options {text!r}: a flag has a bad value ({exc})") from None
    if unknown:
        raise EdgepruneError(f"--beam-options: unknown Beam flags {' '.join(unknown)}")
    flags = [*_without(flags, "runner"), f"--runner={runner}"]
    if runner == DASK_RUNNER:
        flags = _dask_flags(flags)
    return PipelineOptions(flags)


def _dask_flags(flags: list[str]) -> list[str]:
    """The Dask runner's flags, checked: the scheduler must answer before any work, and without
    ``--dask_npartitions``/``--dask_partition_size`` every work unit is its own partition (Beam's default puts 128
    units in one, which leaves all but one worker idle)."""
    address = _flag_value(flags, "dask_client_address")
    if address is None:
        raise EdgepruneError(
            "--beam-options: --runner=DaskRunner needs --dask_client_address=tcp://HOST:PORT (a running "
            "dask.distributed scheduler)"
        )
    check_scheduler(address, float(_flag_value(flags, "dask_connection_timeout") or 10))
    if _flag_value(flags, "dask_npartitions") is None and _flag_value(flags, "dask_partition_size") is None:
        flags = [*flags, "--dask_partition_size=1"]
    return flags


def check_scheduler(address: str, timeout: float) -> None:
    """Connect to the Dask scheduler at ``address`` and hang up; an :class:`EdgepruneError` when it does not
    answer within ``timeout`` seconds."""
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise EdgepruneError(
            f"--beam-options: cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc})"
        ) from None
    client.close()


@contextlib.contextmanager
def run_pipeline(name: str, beam_options) -> Iterator:
    """A Beam pipeline that runs on leaving the block; a failure becomes an :class:`EdgepruneError` naming the
    stage (the finished stages stay in the work dir, and a rerun resumes after them)."""
    import apache_beam as beam

    from ..quiet import beam_logs_to_debug

    pipeline = None
    try:
        with beam_logs_to_debug(), beam.Pipeline(options=beam_options) as pipeline:
            yield pipeline
    except EdgepruneError:
        raise
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise EdgepruneError(
            f"beam stage {name} failed ({type(exc).__name__}: {lines[-1] if lines else 'no message'}); the finished "
            "stages stay in --work-dir and a rerun resumes after them"
        ) from exc
    finally:
        client = getattr(getattr(pipeline, "result", None), "client", None)
        if client is not None:  # the Dask runner leaves its client connected
            client.close()
