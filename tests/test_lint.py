"""The code style is checked, not hoped for: ruff (settings in pyproject.toml) must pass."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_check_and_format():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install edgeprune[dev])")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *args, "edgeprune", "tools", "tests", "experiments"], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
