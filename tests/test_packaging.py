"""``pip install`` is enough: the wheel carries the detector configs and the Task Library runner, declares the
entry point and the runtime dependencies, and resolves the default config from outside the repository."""

import os
import re
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True,
        cwd=build,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    (path,) = out.glob("edgeprune-*.whl")
    return path


def test_wheel_carries_configs_runner_and_entry_point(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "edgeprune = edgeprune.cli:main_exit" in archive.read(entry_points).decode()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert {
        "edgeprune/configs/ssdlite_mobilenetv2_fpnlite_320.yaml",
        "edgeprune/configs/ssdlite_mobilenetv2_fpnlite_256_w050.yaml",
        "edgeprune/detect/task_library_runner.py",
        "edgeprune/detect/tflite_graph.py",
    } <= names
    required = {
        re.split(r"[ <>=;!~]", line.split(":", 1)[1].strip())[0]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"tensorflow", "tf-models-official", "flatbuffers", "ai-edge-litert", "scipy", "tf-keras"} <= required


def test_installed_wheel_resolves_the_default_config_outside_the_repo(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = (
        "from edgeprune.detect.config import resolve_config, QUICK_CONFIG; "
        "print(resolve_config(None)); print(resolve_config('configs/' + QUICK_CONFIG))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=True,
    )
    default, quick = done.stdout.split()
    assert default == str(site / "edgeprune" / "configs" / "ssdlite_mobilenetv2_fpnlite_320.yaml")
    assert quick == str(site / "edgeprune" / "configs" / "ssdlite_mobilenetv2_fpnlite_256_w050.yaml")
