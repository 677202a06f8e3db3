"""Progress off a terminal: whole log lines (start, at most one per interval, end), never carriage returns."""

from __future__ import annotations

import logging
import subprocess
import sys

from edgeprune.progress import LogProgress, progress, track


def test_log_progress_writes_start_periodic_and_end_lines(caplog):
    caplog.set_level(logging.INFO, logger="edgeprune")
    with LogProgress(300, "pretraining", "step", every=0.0) as bar:
        for step in range(300):
            bar.update(1)
            bar.set_postfix(loss=f"{4 - step / 100:.3f}", refresh=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "edgeprune.progress"]
    assert lines[0] == "pretraining: started (300 step)"
    assert lines[-1].startswith("pretraining: done 300/300 step (100%)") and "loss=1.010" in lines[-1]
    assert len(lines) == 301  # every=0: one line per update but the last, which the end line reports
    assert not any("\r" in line for line in lines)


def test_log_progress_is_rate_limited_and_reports_a_stop(caplog):
    caplog.set_level(logging.INFO, logger="edgeprune")
    with LogProgress(1000, "embedding", "img", initial=100) as bar:  # the default interval: no middle lines
        bar.update(400)
    lines = [r.getMessage() for r in caplog.records if r.name == "edgeprune.progress"]
    assert lines[0] == "embedding: started (1000 img, from 100)"
    assert len(lines) == 2 and lines[1].startswith("embedding: stopped at 500/1000 img (50%)")


def test_off_a_terminal_progress_is_log_lines_and_quiet_is_silent(caplog):
    caplog.set_level(logging.INFO, logger="edgeprune")
    assert isinstance(progress(10, "x", "img"), LogProgress)  # pytest's stderr is not a terminal
    caplog.clear()
    assert list(track(list(range(50)), "short")) == list(range(50))  # under 100 items: no lines
    assert not caplog.records
    logging.getLogger("edgeprune").setLevel(logging.WARNING)
    try:
        bar = progress(10, "quiet", "img")
        bar.update(10)
        bar.close()
        assert bar.n == 10 and not [r for r in caplog.records if r.name == "edgeprune.progress"]
    finally:
        logging.getLogger("edgeprune").setLevel(logging.NOTSET)


def test_subcommand_help_prints_only_the_help():
    done = subprocess.run(
        [sys.executable, "-m", "edgeprune", "train-export", "-h"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: edgeprune train-export") and done.stderr == ""
    probe = (
        "import sys, edgeprune.cli as c; c.build_parser(); print(any(m.startswith('tensorflow') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"
