"""Golden outputs of ``curate`` on BCCD's val split (87 images), recorded before the curate package redesign (issue
23): for every policy at image level, object level, with dedup, and on the Beam runner, the kept images,
``summary.json``'s counts and every cell of ``scores.csv`` / ``objects.csv`` (distances to 1e-5). A refactor must
leave them identical.

Regenerate (only when a change of behaviour is intended, and say so in the commit):
``EDGEPRUNE_UPDATE_GOLDEN=1 python -m pytest tests/curation/test_golden.py``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
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


def _table(path: Path, distance_column: str) -> dict | None:
    """A CSV as its header, its rows without the distance column, and the distances as floats."""
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    at = rows[0].index(distance_column)
    return {
        "header": rows[0],
        "rows": [row[:at] + row[at + 1 :] for row in rows[1:]],
        "distances": [float(row[at]) for row in rows[1:]],
    }


def _outputs(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    counts = ("images_before", "images_after", "boxes_before", "boxes_after", "clusters", "duplicates_dropped")
    scores = _table(out / "scores.csv", "distance")
    kept = sorted(row[0] for row in scores["rows"] if row[4] == "1")  # image, id, cluster, rank, kept, duplicate_of
    return {
        "summary": {key: summary[key] for key in counts},
        "kept": kept,
        "scores.csv": scores,
        "objects.csv": _table(out / "objects.csv", "distance"),
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
        GOLDEN.write_text(json.dumps(found, sort_keys=True, separators=(",", ":")) + "\n")
    return found


@pytest.mark.parametrize("name", sorted(RUNS))
def test_curate_outputs_equal_the_recorded_ones(outputs, name):
    """Counts, kept sets and every non-numeric cell exactly; distances to 1e-5 (the last printed digit may differ
    between CPUs' float paths, nothing more)."""
    golden = json.loads(GOLDEN.read_text())[name]
    found = outputs[name]
    assert found["summary"] == golden["summary"]
    assert found["kept"] == golden["kept"]
    for table in ("scores.csv", "objects.csv"):
        if golden[table] is None:
            assert found[table] is None
            continue
        assert found[table]["header"] == golden[table]["header"]
        assert found[table]["rows"] == golden[table]["rows"], f"{name}: {table} changed"
        np.testing.assert_allclose(found[table]["distances"], golden[table]["distances"], atol=1e-5)
