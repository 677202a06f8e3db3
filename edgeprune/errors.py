"""The one exception type for user mistakes.

Anything the user can fix (a missing path, a malformed annotation file, an option out of range) raises
:class:`EdgepruneError`; the CLI turns it into a one-line message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations


class EdgepruneError(Exception):
    """A user-facing error: bad input, bad option, or an environment problem the user can fix."""

    exit_code = 2


class MissingDependencyError(EdgepruneError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none (for one-line errors)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install edgeprune[extra]``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module} is not installed; install it with `pip install edgeprune[{extra}]`"
        ) from exc
