"""Golden outputs of ``curate`` on BCCD's val split (87 images), recorded before the curate package redesign (issue
23): for every policy at image level, object level, with dedup, and on the Beam runner, the kept images,
``summary.json``'s counts and the exact bytes of ``scores.csv`` / ``objects.csv``. A refactor must leave them
identical.

Regenerate (only when a change of behaviour is intended, and say so in the commit):
``EDGEPRUNE_UPDATE_GOLDEN=1 python -m pytest tests/curate/test_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from edgeprune.cli import main

GOLDEN = Path(__file__).with_name("golden_bccd.json")
RUNS = {
    "image-random": ["--policy", "random"],
    "image-easy": ["--policy", "easy"],
    "image-hard": ["--policy", "hard"],
    "image-hard-global": ["--policy", "hard", "--global"],
    "image-stratified": ["--policy", "stratified"],
    "image-coreset": ["--policy", "coreset", "--exact"],
    "image-balanced": ["--policy", "balanced"],
    "image-hard-dedup": ["--policy", "hard", "--dedup", "0.99"],
    "image-easy-floor": ["--policy", "easy", "--min-per-category", "60"],
    "image-fcm": ["--policy", "hard", "--method", "fcm"],
    "object-hard": ["--policy", "hard", "--level", "object"],
    "object-easy-max": ["--policy", "easy", "--level", "object", "--aggregate", "max"],
    "beam-hard": ["--policy", "hard", "--runner", "beam"],
    "beam-easy-dedup": ["--policy", "easy", "--dedup", "0.99", "--runner", "beam"],
}


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _outputs(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    counts = ("images_before", "images_after", "boxes_before", "boxes_after", "clusters", "duplicates_dropped")
    with (out / "scores.csv").open() as fh:
        kept = sorted(line.split(",")[0] for line in fh.read().splitlines()[1:] if line.split(",")[5] == "1")
    return {
        "summary": {key: summary[key] for key in counts},
        "kept": kept,
        "scores.csv": _digest(out / "scores.csv"),
        "objects.csv": _digest(out / "objects.csv"),
    }


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, bccd, tiny_backbone) -> dict:
    root = tmp_path_factory.mktemp("golden")
    found = {}
    for name, extra in RUNS.items():
        argv = ["-q", "curate", str(bccd), "--out", str(root / name), "--backbone", str(tiny_backbone)]
        argv += ["--split", "val", "--image-size", "64", "-k", "4", "--keep", "0.3", "--map-points", "0"]
        argv += ["--cache-dir", str(root / "cache"), *extra]
        if "--runner" in extra:
            argv += ["--work-dir", str(root / f"{name}-work")]
        assert main(argv) == 0, name
        found[name] = _outputs(root / name)
    if os.environ.get("EDGEPRUNE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    return found


@pytest.mark.parametrize("name", sorted(RUNS))
def test_curate_outputs_equal_the_recorded_ones(outputs, name):
    golden = json.loads(GOLDEN.read_text())[name]
    found = outputs[name]
    assert found["summary"] == golden["summary"]
    assert found["kept"] == golden["kept"]
    assert found["scores.csv"] == golden["scores.csv"], f"{name}: scores.csv changed"
    assert found["objects.csv"] == golden["objects.csv"], f"{name}: objects.csv changed"
