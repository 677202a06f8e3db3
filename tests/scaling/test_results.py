"""Scaling summaries: means and spreads over seeds, the verdict against the target, and the files written."""

import csv
import json

import numpy as np
import pytest

from edgeprune.scaling.results import (
    aggregate_rows,
    curated_random_pairs,
    paired_power,
    percent,
    power_markdown,
    rare_class_table,
    regime,
    scaling_exponents,
    table,
    verdict,
    write_results,
)


def _row(policy, fraction, seed, mAP, level="image"):
    level = "-" if policy == "full" else level
    return {
        "cell": f"{policy}{fraction}{seed}",
        "level": level,
        "policy": policy,
        "fraction": fraction,
        "seed": seed,
        "images": int(200 * fraction),
        "boxes": 0,
        "mAP": mAP,
        "mAP50": mAP + 30,
        "train_seconds": 1.0,
    }


ROWS = [
    _row("full", 1.0, 0, 50.0),
    _row("full", 1.0, 1, 52.0),
    _row("random", 0.1, 0, 44.0),
    _row("random", 0.1, 1, 46.0),
    _row("random", 0.1, 2, 45.0),
    _row("hard", 0.1, 0, 49.0),
    _row("hard", 0.1, 1, 50.0),
    _row("hard", 0.1, 2, 49.5),
    _row("easy", 0.1, 0, 40.0),
    _row("easy", 0.1, 1, 41.0),
    _row("hard", 0.25, 0, 50.0),
]


def test_aggregate_gives_mean_and_sample_std_over_seeds():
    summary = {(s["series"], s["fraction"]): s for s in aggregate_rows(ROWS)}
    assert summary[("full", 1.0)]["mAP"] == 51.0
    assert summary[("hard (image)", 0.1)]["mAP_std"] == pytest.approx(np.std([49, 50, 49.5], ddof=1))
    assert summary[("hard (image)", 0.25)]["seeds"] == 1 and summary[("hard (image)", 0.25)]["mAP_std"] == 0.0


def test_verdict_checks_ap50_margin_standard_error_seeds_and_gap_to_full():
    result = verdict(aggregate_rows(ROWS))
    assert result["met"] is True and result["best"] == "hard (image)" and result["fraction"] == 0.1
    assert result["metric"] == "mAP50" and result["gain_over_random"] == pytest.approx(4.5)
    assert result["gap_to_full"] == pytest.approx(81.0 - 80.0)  # full data vs the best policy at 25%
    assert result["standard_error"] == pytest.approx(np.std([5, 4, 4.5], ddof=1) / np.sqrt(3))  # paired by seed
    assert "Target 1" in result["text"] and ": met at 10%" in result["text"]
    close = [r if r["policy"] != "hard" else {**r, "mAP50": r["mAP50"] - 3.5} for r in ROWS]
    assert verdict(aggregate_rows(close))["met"] is False  # +1 point only
    noisy = [r if r["policy"] != "hard" else {**r, "mAP50": r["mAP50"] + 8 * (r["seed"] - 1)} for r in ROWS]
    assert verdict(aggregate_rows(noisy))["met"] is False  # +4.5 but within two standard errors
    two_seeds = [r for r in ROWS if r["seed"] < 2]
    assert verdict(aggregate_rows(two_seeds))["met"] is False  # too few seeds to claim it
    far = [r if r["fraction"] != 0.25 else {**r, "mAP50": 70.0} for r in ROWS]
    assert (
        verdict(aggregate_rows(far))["met"] is False
        and "Target 2 (within 2 AP50" in verdict(aggregate_rows(far))["text"]
    )
    assert verdict(aggregate_rows([r for r in ROWS if r["policy"] != "random"]))["met"] is None
    regime = [*ROWS, _row("random", 0.5, 0, 50.5), _row("random", 0.5, 1, 51.0)]  # random alone above the grid
    assert verdict(aggregate_rows(regime))["gap_to_full"] == pytest.approx(1.0)  # still hard at 25%, not random
    assert verdict(aggregate_rows([*regime, _row("easy", 0.5, 0, 20.0)]))["gap_to_full"] == pytest.approx(31.0)
    only_half = [{**r, "fraction": 0.5} if r["fraction"] == 0.1 else r for r in ROWS]
    assert verdict(aggregate_rows(only_half))["met"] is None  # target 1 looks at fractions <= 25% only


def test_a_seed_effect_shared_by_every_cell_cancels_in_the_paired_difference():
    shifted = [{**r, "mAP50": r["mAP50"] + 10 * r["seed"]} for r in ROWS]  # seed 2 is 20 points up everywhere
    result = verdict(aggregate_rows(shifted))
    assert result["gain_over_random"] == pytest.approx(4.5) and ": met at 10%" in result["text"]  # target 1
    assert result["standard_error"] == pytest.approx(np.std([5, 4, 4.5], ddof=1) / np.sqrt(3))
    assert "paired by seed" in result["text"]
    unpaired = [{**r, "seed": r["seed"] + 10} if r["policy"] == "random" else r for r in shifted]
    assert "Target 1 " in (text := verdict(aggregate_rows(unpaired))["text"]) and ": met at" not in text


def test_power_pools_the_noise_of_every_paired_comparison():
    summary = aggregate_rows(ROWS)
    pairs = curated_random_pairs(summary)
    assert sorted(ours["series"] for ours, _ in pairs) == ["easy (image)", "hard (image)"]  # 25%: no random there
    power = paired_power(pairs)
    # hard - random per seed: 5, 4, 4.5; easy - random (seeds 0 and 1): -4, -5 -> deviations from each pair's mean
    deviations = np.array([0.5, -0.5, 0.0, 0.5, -0.5])
    sd = np.sqrt((deviations**2).sum() / 3)
    assert power["pairs"] == 2 and power["dof"] == 3 and power["sd_of_paired_difference"] == pytest.approx(sd)
    assert power["resolvable"] == pytest.approx(2 * sd / np.sqrt(3)) and power["seeds_for_margin"] == 1
    # a seed effect shared by both series does not count as noise; one that is not does
    shifted = aggregate_rows([{**r, "mAP50": r["mAP50"] + 10 * r["seed"]} for r in ROWS])
    assert paired_power(curated_random_pairs(shifted))["sd_of_paired_difference"] == pytest.approx(sd)
    noisy = [{**r, "mAP50": r["mAP50"] + 6 * (r["seed"] - 1)} if r["policy"] == "random" else r for r in ROWS]
    power = paired_power(curated_random_pairs(aggregate_rows(noisy)))
    assert power["sd_of_paired_difference"] > 5 and power["seeds_for_margin"] > 25  # +2 needs many seeds
    assert f"gain must exceed {power['resolvable']:.1f} points" in power_markdown(power, compared="x and y")
    assert paired_power(curated_random_pairs(aggregate_rows([r for r in ROWS if r["seed"] == 0]))) is None
    # a second random series is a second baseline: each curated series is compared with both
    with_dedup = ROWS + [
        {**r, "policy": "dedup+random", "mAP50": r["mAP50"] + 1} for r in ROWS if r["policy"] == "random"
    ]
    assert len(curated_random_pairs(aggregate_rows(with_dedup))) == 4
    assert power_markdown(None, compared="x") == ""


def test_regime_check_needs_a_strong_full_model_and_headroom_for_random():
    rows = [_row("full", 1.0, s, 40.0 + 0.5 * s) for s in range(3)]
    rows += [_row("random", f, s, m) for f, m in ((0.01, 30.5), (0.05, 38.5)) for s in range(3)]
    check = regime(aggregate_rows(rows))
    assert check["met"] is True and check["stable"] is True and check["with_headroom"] == [0.01]
    assert [r["gap_to_full"] for r in check["rows"]] == [pytest.approx(10.0), pytest.approx(2.0)]
    weak = [{**r, "mAP50": r["mAP50"] - 45} for r in rows]  # full data at AP50 25: noise level
    assert regime(aggregate_rows(weak))["met"] is False
    unstable = [{**r, "mAP50": r["mAP50"] + 6 * r["seed"]} if r["policy"] == "full" else r for r in rows]
    assert regime(aggregate_rows(unstable))["stable"] is False  # seeds 6 points apart: a 2-point effect drowns
    assert regime(aggregate_rows(unstable))["met"] is False
    assert regime(aggregate_rows([rows[0], *rows[3:]]))["met"] is None  # one full-data seed: spread unknown
    assert regime(aggregate_rows(rows[:3]))["met"] is None


def test_scaling_exponents_recover_a_planted_power_law():
    rows = []
    for policy, nu in (("random", 0.2), ("hard", 0.4)):
        for fraction in (0.05, 0.1, 0.5):
            n = int(200 * fraction)
            rows.append({**_row(policy, fraction, 0, 0.0), "mAP50": 100 * (1 - 0.9 * n**-nu)})
    fits = scaling_exponents(aggregate_rows(rows))
    assert fits["random (image)"]["nu"] == pytest.approx(0.2, abs=1e-6)
    assert fits["hard (image)"]["nu"] == pytest.approx(0.4, abs=1e-6) and fits["hard (image)"]["points"] == 3
    above = {**_row("random", 0.9, 0, 0.0), "mAP50": 99.0}  # a regime check's random point above the grid
    fits = scaling_exponents(aggregate_rows([*rows, above]))
    assert fits["random (image)"]["nu"] == pytest.approx(0.2, abs=1e-6) and fits["random (image)"]["points"] == 3
    alone = scaling_exponents(aggregate_rows([r for r in [*rows, above] if r["policy"] == "random"]))
    assert alone["random (image)"]["points"] == 4  # no grid yet: every fraction counts


def test_verdict_counts_dedup_random_as_a_random_baseline():
    rows = [r for r in ROWS if r["policy"] != "random"] + [
        {**r, "policy": "dedup+random"} for r in ROWS if r["policy"] == "random"
    ]
    assert verdict(aggregate_rows(rows))["best"] == "hard (image)"


def test_rare_class_table_averages_seeds_at_the_smallest_fraction():
    rows = [{**_row("hard", 0.1, s, 10.0), "per_class": {"a": 10.0 + s, "b": 0.0, "c": 50.0}} for s in range(3)] + [
        {**_row("full", 1.0, 0, 50.0), "per_class": {"a": 40.0, "b": 30.0, "c": 60.0}}
    ]
    assert rare_class_table(rows, ["a"]) == {}  # one class: its AP is the table's mAP
    rare = rare_class_table(rows, ["a", "b"])
    assert rare["fraction"] == 0.1 and rare["series"]["hard (image)"] == {"a": 11.0, "b": 0.0}
    assert rare["series"]["full"] == {"a": 40.0, "b": 30.0}


def test_write_results_writes_json_csv_and_a_png(tmp_path):
    document = write_results(tmp_path, ROWS, {"steps": 100}, title="t")
    assert json.loads((tmp_path / "scaling.json").read_text())["verdict"]["met"] == document["verdict"]["met"]
    with (tmp_path / "scaling.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == len(ROWS)
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| hard (image) | 10% | 20 | 3 | 49.5 ± 0.5 | 79.5 ± 0.5 |" in table(document["summary"])
    text = (tmp_path / "scaling.md").read_text()
    assert "same number of steps (100)" in text and "Target 1 (a curated policy >= +2 AP50 over the best" in text
    assert "## Regime check" in text and "## Scaling exponents" in text
    assert "## How small a difference this experiment can resolve" in text
    assert "| hard (image) | 10% | 79.0 | 80.0 | 79.5 | +5.0, +4.0, +4.5 |" in text  # AP50 by seed, minus random
    assert "| easy (image) | 10% | 70.0 | 71.0 | · | -4.0, -5.0 |" in text  # a seed not run yet
    assert "| hard (image) | 25% | 80.0 | · | · |  |" in text  # no random at 25%: nothing to subtract


def test_percent_keeps_the_digits_a_fraction_has():
    written = [percent(f) for f in (0.001, 0.0025, 0.005, 0.0075, 0.25, 1.0)]
    assert written == ["0.1%", "0.25%", "0.5%", "0.75%", "25%", "100%"]
