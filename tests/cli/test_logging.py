"""The command line's log output: edgeprune's own INFO lines by default, other libraries' only with -v."""

from __future__ import annotations

import logging

import pytest

from edgeprune.cli import _configure_logging


@pytest.fixture
def restore_logging():
    """Set ``distributed`` to INFO as dask does, and put the loggers back as the test found them afterwards."""
    root, dask = logging.getLogger(), logging.getLogger("distributed")
    saved = (root.level, list(root.handlers), dask.level)
    dask.setLevel(logging.INFO)  # as dask's own config does once distributed is imported
    yield
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])
    dask.setLevel(saved[2])


def _emit() -> None:
    logging.getLogger("edgeprune.curate").info("embedding 10 images")
    logging.getLogger("distributed.core").info("Event loop was unresponsive in Nanny for 3.11s.")
    logging.getLogger("distributed.core").warning("a worker died")


def test_by_default_only_edgeprune_speaks_at_info(capsys, restore_logging):
    _configure_logging(verbose=0, quiet=False)
    _emit()
    err = capsys.readouterr().err.splitlines()
    assert err == ["INFO edgeprune.curate: embedding 10 images", "WARNING distributed.core: a worker died"]


def test_verbose_shows_other_libraries_info_and_quiet_only_warnings(capsys, restore_logging):
    _configure_logging(verbose=1, quiet=False)
    _emit()
    assert "INFO distributed.core: Event loop was unresponsive in Nanny for 3.11s." in capsys.readouterr().err
    _configure_logging(verbose=0, quiet=True)
    _emit()
    assert capsys.readouterr().err.splitlines() == ["WARNING distributed.core: a worker died"]
