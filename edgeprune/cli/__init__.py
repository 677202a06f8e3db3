"""The ``edgeprune`` command: ``main(argv) -> int``; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from .. import __version__
from ..errors import EdgepruneError
from ..quiet import show_native_output
from . import benchmark, convert, curate, label_loop, leaks, pretrain, scaling, select, split, train_export
from .flag_names import with_flag_names

_QUIET_NATIVE = "3"
SUBCOMMANDS = (curate, select, leaks, split, convert, pretrain, train_export, benchmark, scaling, label_loop)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="edgeprune",
        description="Curate detection datasets by self-supervised prototype pruning, then train and export "
        "edge detectors.",
    )
    parser.add_argument("--version", action="version", version=f"edgeprune {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    parser.commands = subparsers.choices  # each subcommand's parser, to name its flags in error messages
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    """edgeprune's own INFO lines by default; other libraries' (TensorFlow, absl, the converter, Dask) only with
    ``-v``."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    show_native_output(verbose >= 1)
    logging.captureWarnings(True)  # library warnings (tf_keras, Model Garden) become "py.warnings" log records
    if verbose < 1:
        # Other libraries' INFO lines (a Dask nanny's "event loop was unresponsive", Beam's stage chatter) only with
        # -v. A filter on the handler, since a library may set its own logger to INFO (dask sets "distributed"):
        # a record that propagates is checked against the handlers, not against the root logger's level.
        for handler in logging.getLogger().handlers:
            handler.addFilter(_edgeprune_or_warnings)
        for noisy in ("tensorflow", "absl", "h5py", "matplotlib", "PIL", "faiss", "edgeprune.native", "py.warnings"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    else:
        logging.getLogger("absl").setLevel(logging.INFO)
        if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == _QUIET_NATIVE:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"  # -v: TensorFlow's native lines too


def _edgeprune_or_warnings(record: logging.LogRecord) -> bool:
    """Let through edgeprune's own records, and every library's warnings and errors."""
    return record.levelno >= logging.WARNING or record.name == "edgeprune" or record.name.startswith("edgeprune.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 user error, 130 interrupted)."""
    # Before anything can import TensorFlow (a subcommand's help included): its C++ start-up lines (CUDA stubs,
    # oneDNN, CPU features) stay off the console unless -v asks for them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", _QUIET_NATIVE)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage or help
        return int(exc.code or 0)
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.run(args) or 0)
    except EdgepruneError as exc:
        message = with_flag_names(str(exc), parser.commands[args.command])
        print(f"edgeprune {args.command}: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        hint = getattr(args, "interrupt_hint", "no partial output was left")
        print(f"edgeprune {args.command}: interrupted; {hint}", file=sys.stderr)
        return 130


def main_exit() -> None:
    """Console-script entry point: ``sys.exit(main())``."""
    sys.exit(main())
