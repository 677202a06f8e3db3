"""A tiny end-to-end scaling run (two fractions, two policies, one seed, a few steps of a tiny detector): the
files it writes, resume skipping finished cells, a growing grid, and bad input."""

import csv
import json

import pytest

from edgeprune.cli import main
from tests.conftest import TINY_DETECTOR_SETS

SETS = [arg for override in TINY_DETECTOR_SETS for arg in ("--set", override)]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, digits_coco, digits_coco_val, tiny_backbone):
    root = tmp_path_factory.mktemp("scaling")

    def run(*extra, out=root / "exp", val=digits_coco_val):
        argv = ["-q", "scaling", str(digits_coco), "--val", str(val), "--out", str(out), "--steps", "6"]
        argv += ["--image-size", "128", "--width", "0.35", "--batch-size", "4", *SETS, "--seeds", "1"]
        argv += ["--backbone", str(tiny_backbone), "--clusters", "3", "--cache-dir", str(root / "cache"), *extra]
        return main(argv)

    code = run("--fractions", "0.25,1.0", "--policies", "random,hard")
    return run, root / "exp", code


def test_tiny_run_writes_json_csv_png_and_a_verdict(experiment, capsys):
    _, out, code = experiment
    assert code == 0
    document = json.loads((out / "scaling.json").read_text())
    assert sorted(c["cell"] for c in document["cells"]) == ["full-s0", "image-hard-0.250-s0", "image-random-0.250-s0"]
    for cell in document["cells"]:
        assert 0.0 <= cell["mAP"] <= 100.0
        assert cell["images"] == (43 if cell["policy"] == "full" else pytest.approx(11, abs=2))
    assert document["verdict"]["fraction"] == 0.25 and document["verdict"]["met"] in (True, False)
    with (out / "scaling.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 3
    assert (out / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    selection = json.loads((out / "cells" / "image-hard-0.250-s0" / "selection.json").read_text())
    assert len(selection["kept"]) == selection["images"]
    assert json.loads((out / "plan.json").read_text())["settings"]["steps"] == 6


def test_rerun_skips_finished_cells_and_a_grown_grid_runs_only_the_new_ones(experiment, capsys):
    run, out, _ = experiment
    finished = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/model/metrics.json")}
    assert run("--fractions", "0.25,1.0", "--policies", "random,hard") == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("cells/*/model/metrics.json")} == finished
    assert run("--fractions", "0.25,1.0", "--policies", "random,hard,dedup+hard") == 0
    now = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/model/metrics.json")}
    assert len(now) == 4 and all(now[p] == t for p, t in finished.items())
    assert "dedup+hard (image)" in capsys.readouterr().out
    selection = json.loads((out / "cells" / "image-dedup+hard-0.250-s0" / "selection.json").read_text())
    assert selection["images"] == 11  # round(0.25 x 43): the same count as the other policies


def test_a_killed_cell_continues_from_its_last_checkpoint(experiment, monkeypatch):
    import edgeprune.detect.pipeline as detect_pipeline

    run, out, _ = experiment
    real_train = detect_pipeline.train

    def killed_after_three_steps(params, model_dir):
        params.trainer.train_steps = 3
        real_train(params, model_dir)
        raise KeyboardInterrupt

    grid = ["--fractions", "0.25,1.0", "--policies", "random,hard,dedup+hard,stratified"]
    monkeypatch.setattr(detect_pipeline, "train", killed_after_three_steps)
    assert run(*grid) == 130
    cell = out / "cells" / "image-stratified-0.250-s0"
    assert list((cell / ".model.partial" / "model").glob("ckpt-3.index")) and not (cell / "model").exists()
    monkeypatch.setattr(detect_pipeline, "train", real_train)
    assert run(*grid) == 0
    checkpoints = sorted(p.name for p in (cell / "model" / "model").glob("ckpt-*.index"))
    assert checkpoints == ["ckpt-3.index", "ckpt-6.index"]  # continued from step 3, not restarted
    assert not (cell / ".model.partial").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--fractions", "0.5,2"], "--fractions must be comma-separated numbers in \\(0, 1\\]"),
        (["--policies", "hardest"], "--policies: choose from"),
        (["--level", "pixel"], "--level: choose from image, object"),
        (["--steps", "7"], "holds a scaling run with other settings \\(steps: 6 there, 7 now\\)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(experiment, capsys, extra, message):
    import re

    run, _, _ = experiment
    assert run(*extra) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("edgeprune scaling: error:") and re.search(message, err), err


def test_validation_images_that_are_also_training_images_are_refused(experiment, digits_coco, tmp_path, capsys):
    run, _, _ = experiment
    assert run("--fractions", "1.0", out=tmp_path / "leaky", val=digits_coco) == 2
    err = capsys.readouterr().err.strip()
    assert "43 of 43 validation images also appear in the training set" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "leaky").exists()  # refused before any work


def test_out_that_is_not_an_experiment_is_refused(experiment, tmp_path, capsys):
    run, _, _ = experiment
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    assert run(out=tmp_path / "x") == 2
    assert "is not a scaling run directory" in capsys.readouterr().err
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_init_detector_is_recorded_in_the_plan_and_a_change_is_refused(experiment, tmp_path, capsys):
    run, out, _ = experiment
    start = out / "cells" / "full-s0" / "model"  # a finished cell is a run every cell can start from
    assert run("--fractions", "1.0", "--init-detector", str(start), out=tmp_path / "ft") == 0
    settings = json.loads((tmp_path / "ft" / "plan.json").read_text())["settings"]
    assert settings["init_detector"] == str(start)
    assert (tmp_path / "ft" / "cells" / "full-s0" / "model" / "metrics.json").is_file()
    capsys.readouterr()
    assert run("--fractions", "1.0", out=tmp_path / "ft") == 2
    err = capsys.readouterr().err.strip()
    assert f"init_detector: {str(start)!r} there, None now" in err and len(err.splitlines()) == 1


def test_coverage_parameters_reach_every_cell_and_a_change_is_refused(experiment, capsys):
    from edgeprune.scaling.plan import Cell
    from edgeprune.scaling.run import ScalingOptions, _curate_options

    run, out, _ = experiment
    default = ScalingOptions(out=out)
    assert not {"probcover_delta", "ccs_beta", "ccs_strata"} & set(default.shared_settings())  # older plans match
    tuned = ScalingOptions(out=out, probcover_delta=0.3, ccs_beta=0.2)
    assert tuned.shared_settings()["probcover_delta"] == 0.3 and tuned.shared_settings()["ccs_beta"] == 0.2
    curate = _curate_options(tuned, Cell("image", "probcover", 0.25, 1), "backbone", out / "cache")
    chosen = curate.selection
    assert (chosen.probcover_delta, chosen.ccs_beta, chosen.ccs_strata, curate.seed) == (0.3, 0.2, 50, 1)
    capsys.readouterr()
    assert run("--fractions", "0.25,1.0", "--policies", "random,hard", "--probcover-delta", "0.3") == 2
    err = capsys.readouterr().err.strip()
    assert "probcover_delta: None there, 0.3 now" in err and len(err.splitlines()) == 1
