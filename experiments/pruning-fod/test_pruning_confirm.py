"""experiments/pruning-fod/pruning_confirm.py: the fresh-seed test of a lead chosen on the first seeds."""

import pruning_confirm
import pytest


def _entry(series, fraction, values):
    return {"series": series, "fraction": fraction, "mAP50_by_seed": {str(s): v for s, v in enumerate(values)}}


def test_the_lead_is_tested_on_the_fresh_seeds_alone():
    summary = [
        _entry("coreset (image)", 0.01, [70, 71, 70, 72, 71, 70, 71, 72]),
        _entry("random (image)", 0.01, [40, 60, 72, 66, 67, 68, 66, 69]),  # seed 0 collapses
        _entry("coreset (image)", 0.02, [90] * 8),
    ]
    result = pruning_confirm.confirm(summary, "coreset (image)", "random (image)", 0.01, first_seed=3)
    assert result["chosen_on"]["seeds"] == [0, 1, 2] and result["fresh"]["seeds"] == [3, 4, 5, 6, 7]
    assert result["fresh"]["differences"] == [6, 4, 2, 5, 3]
    assert result["fresh"]["mean"] == pytest.approx(4.0) and result["fresh"]["met"] is True
    assert result["chosen_on"]["met"] is False  # +13.7, but the collapse makes it noisy
    assert result["collapses"] == {"coreset (image)": [], "random (image)": [0]}


def test_too_few_fresh_seeds_give_no_verdict():
    summary = [_entry("easy (image)", 0.01, [70, 71, 70, 72]), _entry("random (image)", 0.01, [60, 60, 60])]
    result = pruning_confirm.confirm(summary, "easy (image)", "random (image)", 0.01, first_seed=3)
    assert result["fresh"] == {"seeds": [], "differences": []}  # seed 3 has no random cell to pair with
    assert "met" not in result["fresh"] and result["all"]["met"] is True


def test_the_verdict_is_against_the_strongest_random_series():
    summary = [
        _entry("coreset (image)", 0.01, [70] * 6),
        _entry("random (image)", 0.01, [60] * 6),
        _entry("dedup+random (image)", 0.01, [60, 60, 60, 69, 69.5, 68]),  # only 1.2 below on the fresh seeds
    ]
    comparisons = [
        pruning_confirm.confirm(summary, "coreset (image)", base, 0.01, first_seed=3)
        for base in ("random (image)", "dedup+random (image)")
    ]
    result = pruning_confirm.strongest_baseline(comparisons)
    assert result["strongest_baseline"] == "dedup+random (image)" and result["met"] is False


def test_out_inside_the_scaling_run_is_refused_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "scaling.json").write_text("{}")
    argv = ["pruning_confirm.py", str(tmp_path), "--series", "coreset (image)", "--fraction", "0.01"]
    monkeypatch.setattr("sys.argv", [*argv, "--first-seed", "3", "--out", str(tmp_path / "scaling.json")])
    with pytest.raises(SystemExit) as exit_info:
        pruning_confirm.main()
    assert exit_info.value.code == 2
    assert "lies inside the scaling run" in capsys.readouterr().err
    assert (tmp_path / "scaling.json").read_text() == "{}"
