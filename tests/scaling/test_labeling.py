"""A tiny simulated labelling loop (one seed, one round, every strategy, a few steps of a tiny detector): the picks,
the files it writes, resume, a start set read from a scaling run, and bad input."""

import csv
import json
import re

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.scaling.labeling_results import comparisons, strategy_random_pairs, summarize, verdict
from edgeprune.scaling.results import paired_power
from tests.conftest import TINY_DETECTOR_SETS

SETS = [arg for override in TINY_DETECTOR_SETS for arg in ("--set", override)]
STRATEGIES = "random,uncertainty,combined"  # diversity alone is select's default, tested in tests/test_next_batch.py


@pytest.fixture(scope="module")
def loop(tmp_path_factory, digits_coco, digits_coco_val, tiny_backbone):
    root = tmp_path_factory.mktemp("labeling")

    def run(command, *extra, out=root / "loop"):
        argv = ["-q", command, str(digits_coco), "--val", str(digits_coco_val), "--out", str(out), "--steps", "6"]
        argv += ["--image-size", "128", "--width", "0.35", "--batch-size", "4", *SETS, "--seeds", "1"]
        argv += ["--backbone", str(tiny_backbone), "--cache-dir", str(root / "cache"), *extra]
        return main(argv)

    code = run("label-loop", "--start", "0.25", "--batch", "4", "--rounds", "1", "--strategies", STRATEGIES)
    return run, root, code


def _selection(out, cell):
    return json.loads((out / "cells" / cell / "selection.json").read_text())


def test_every_strategy_adds_a_batch_to_the_same_start_set(loop):
    run, root, code = loop
    out = root / "loop"
    assert code == 0
    start = _selection(out, "start-s0")
    assert start["images"] == 11 and start["picked"] == []  # round(0.25 x 43)
    picks = {}
    for strategy in STRATEGIES.split(","):
        cell = _selection(out, f"{strategy}-r1-s0")
        assert cell["images"] == 15 and len(cell["picked"]) == 4
        assert set(cell["labeled"]) == set(start["labeled"]) | set(cell["picked"])  # the start set grows
        assert not set(cell["picked"]) & set(start["labeled"])
        assert (out / "cells" / f"{strategy}-r1-s0" / "model" / "metrics.json").is_file()
        picks[strategy] = tuple(cell["picked"])
    assert picks["combined"] != picks["uncertainty"]  # diversity reorders the uncertain images


def test_it_writes_json_csv_markdown_and_a_png_with_a_verdict(loop):
    _, root, _ = loop
    out = root / "loop"
    document = json.loads((out / "labeling.json").read_text())
    assert sorted(c["cell"] for c in document["cells"]) == [
        "combined-r1-s0", "random-r1-s0", "start-s0", "uncertainty-r1-s0",
    ]  # fmt: skip
    for cell in document["cells"]:
        assert 0.0 <= cell["mAP50"] <= 100.0
    assert {c["strategy"] for c in document["comparisons"]} == {"uncertainty", "combined"}
    assert document["verdict"]["met"] is False  # one seed can never meet a 3-seed target
    assert document["power"] is None  # one seed: no spread of paired differences to pool yet
    with (out / "labeling.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 4
    assert (out / "labeling.png").read_bytes()[:4] == b"\x89PNG"
    assert "**Verdict.**" in (out / "labeling.md").read_text()


def test_rerun_skips_finished_cells_and_a_second_round_grows_the_strategy_own_set(loop):
    run, root, _ = loop
    out = root / "loop"
    finished = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/model/metrics.json")}
    assert run("label-loop", "--start", "0.25", "--batch", "4", "--rounds", "2", "--strategies", "combined") == 0
    now = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/model/metrics.json")}
    assert all(now[p] == t for p, t in finished.items()) and len(now) == len(finished) + 1
    first, second = _selection(out, "combined-r1-s0"), _selection(out, "combined-r2-s0")
    assert second["images"] == 19 and set(second["labeled"]) == set(first["labeled"]) | set(second["picked"])


def test_start_sets_read_in_place_from_a_scaling_run(loop, capsys):
    run, root, _ = loop
    scaling = root / "scaling"
    assert run("scaling", "--fractions", "0.25", "--policies", "random", "--clusters", "3", out=scaling) == 0
    out = root / "from_scaling"
    assert run("label-loop", "--start", "0.25", "--batch", "4", "--rounds", "1", "--strategies", "random",
               "--start-from", str(scaling), out=out) == 0  # fmt: skip
    assert not (out / "cells" / "start-s0").exists()  # not retrained
    scaled = json.loads((scaling / "cells" / "image-random-0.250-s0" / "selection.json").read_text())
    cell = _selection(out, "random-r1-s0")
    assert set(scaled["kept"]) <= set(cell["labeled"]) and len(cell["labeled"]) == len(scaled["kept"]) + 4
    rows = {c["cell"]: c for c in json.loads((out / "labeling.json").read_text())["cells"]}
    scaled_metrics = json.loads((scaling / "cells" / "image-random-0.250-s0" / "model" / "metrics.json").read_text())
    assert rows["start-s0"]["mAP50"] == scaled_metrics["tf"]["mAP50"]
    capsys.readouterr()
    assert run("label-loop", "--start", "0.25", "--steps", "7", "--start-from", str(scaling), out=root / "x") == 2
    assert "steps: 6 there, 7 now" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strategies", "greedy"], "--strategies: choose from random, diversity, uncertainty, combined"),
        (["--start", "1"], "--start 1.0 must be a fraction in \\(0, 1\\)"),
        (
            ["--start", "0.25", "--batch", "40", "--rounds", "1"],
            "--batch 40 x --rounds 1 is larger than what is left of TRAIN after the start set \\(32 images\\)",
        ),
        (
            ["--start", "0.25", "--batch", "4", "--steps", "7"],
            "holds a label-loop run with other settings \\(steps: 6 there, 7 now\\)",
        ),
        (["--start-from", "nowhere"], "--start-from nowhere must be the out directory of `edgeprune scaling`"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(loop, capsys, extra, message):
    run, root, _ = loop
    out = root / "loop" if "--steps" in extra else root / f"bad-{len(extra)}-{extra[1][:3]}"
    assert run("label-loop", *extra, out=out) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("edgeprune label-loop: error:") and re.search(message, err), err


def test_verdict_needs_three_paired_seeds_and_two_standard_errors():
    def rows(strategy, values):
        return [{"strategy": strategy, "round": 1, "seed": s, "images": 26, "mAP": v / 2, "mAP50": v}
                for s, v in enumerate(values)]  # fmt: skip

    # a seed effect shared by both strategies cancels in the paired difference
    summary = summarize(rows("random", [20.0, 40.0, 60.0]) + rows("combined", [23.0, 43.5, 62.5]))
    [compared] = comparisons(summary)
    assert compared["gain"] == pytest.approx(3.0) and compared["error"] == pytest.approx(0.5 / np.sqrt(3))
    assert verdict(summary)["met"] is True
    noisy = summarize(rows("random", [20.0, 40.0, 60.0]) + rows("combined", [30.0, 38.0, 61.0]))
    assert verdict(noisy)["met"] is False  # +3 on average, but the spread of the differences is larger
    assert verdict(summarize(rows("random", [20.0, 40.0]) + rows("combined", [30.0, 50.0])))["met"] is False
    assert verdict(summarize(rows("random", [20.0])))["met"] is None
    power = paired_power(strategy_random_pairs(noisy))  # differences +10, -2, +1: sd 6.2
    assert power["sd_of_paired_difference"] == pytest.approx(np.std([10.0, -2.0, 1.0], ddof=1))
    assert power["seeds_for_margin"] == int(np.ceil(np.var([10.0, -2.0, 1.0], ddof=1)))
