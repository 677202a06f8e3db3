"""The scaling grid: parsing, cells and their names, and the one-experiment-per-directory rule."""

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.scaling.plan import (
    Cell,
    check_same_settings,
    fraction_label,
    parse_choices,
    parse_fractions,
    plan_cells,
)


def test_full_data_cells_are_shared_by_all_policies_and_levels():
    cells = plan_cells([0.25, 0.5, 1.0], ["random", "hard"], ["image", "object"], seeds=2)
    assert len(cells) == 2 * (1 + 2 * 2 * 2)
    assert [c.name for c in cells[:3]] == ["full-s0", "image-random-0.250-s0", "image-hard-0.250-s0"]
    assert {c.series for c in cells} == {"full", "random (image)", "hard (image)", "random (object)", "hard (object)"}
    assert len({c.name for c in cells}) == len(cells)


def test_parsers_reject_bad_values():
    assert parse_fractions("1.0, 0.5,0.5") == [0.5, 1.0]
    for bad in ("0,0.5", "1.5", "half", ""):
        with pytest.raises(EdgepruneError, match="--fractions"):
            parse_fractions(bad)
    assert parse_choices("hard,easy,hard", ("easy", "hard"), "--policies") == ["hard", "easy"]
    with pytest.raises(EdgepruneError, match="--policies: choose from easy, hard"):
        parse_choices("hard,median", ("easy", "hard"), "--policies")
    with pytest.raises(EdgepruneError, match="seeds=0 must be at least 1"):
        plan_cells([0.5], ["hard"], ["image"], seeds=0)


def test_a_directory_holds_one_experiment():
    check_same_settings({"steps": 10}, {"steps": 10}, "d")
    with pytest.raises(EdgepruneError, match="steps: 10 there, 20 now"):
        check_same_settings({"steps": 10}, {"steps": 20}, "d")
    assert Cell("image", "hard", 0.5, 1).name == "image-hard-0.500-s1"


def test_dedup_policies_and_their_base_policy():
    from edgeprune.scaling.plan import base_policy

    cells = plan_cells([0.1, 1.0], ["random", "dedup+hard", "coreset", "balanced"], ["image"], 1)
    assert [c.name for c in cells] == [
        "full-s0",
        "image-random-0.100-s0",
        "image-dedup+hard-0.100-s0",
        "image-coreset-0.100-s0",
        "image-balanced-0.100-s0",
    ]
    assert base_policy("dedup+hard") == ("hard", True) and base_policy("coreset") == ("coreset", False)
    with pytest.raises(EdgepruneError, match="unknown policy 'dedup\\+nope'"):
        plan_cells([0.5], ["dedup+nope"], ["image"], 1)


def test_free_baselines_and_per_video_series():
    from edgeprune.scaling.plan import base_policy, is_baseline, per_video

    cells = plan_cells([0.1], ["uniform", "stride", "typical+videos", "zcore"], ["image"], 1)
    assert [c.name for c in cells] == [
        "image-uniform-0.100-s0",
        "image-stride-0.100-s0",
        "image-typical+videos-0.100-s0",
        "image-zcore-0.100-s0",
    ]
    assert [is_baseline(p) for p in ("uniform", "stride", "random", "random+videos", "typical")] == [
        True, True, True, False, False,
    ]  # fmt: skip
    assert per_video("stride") and per_video("typical+videos") and not per_video("uniform")
    assert base_policy("typical+videos") == ("typical", False)


def test_fractions_finer_than_three_decimals_get_cell_names_of_their_own():
    names = {Cell("image", "random", f, 0).name for f in (0.0025, 0.002, 0.003, 0.0075, 0.008)}
    assert len(names) == 5
    assert Cell("image", "random", 0.01, 1).name == "image-random-0.010-s1"  # existing runs keep their names
    assert fraction_label(0.0025) == "0.0025" and fraction_label(0.005) == "0.005"


def test_series_map_to_the_curation_they_name(tmp_path):
    from pathlib import Path

    from edgeprune.scaling.run import ScalingOptions, _curate_options

    options = ScalingOptions(out=tmp_path, groups=Path("clips.csv"))
    curation = {
        policy: _curate_options(options, Cell("image", policy, 0.1, 2), "bb", tmp_path).selection
        for policy in ("uniform", "random", "stride", "typical", "typical+videos", "diversity+videos")
    }
    assert (curation["uniform"].policy, curation["uniform"].per_cluster) == ("random", False)
    assert (curation["random"].policy, curation["random"].per_cluster) == ("random", True)
    assert curation["stride"].groups == Path("clips.csv") and curation["typical+videos"].groups == Path("clips.csv")
    assert curation["typical"].groups is None and curation["typical+videos"].policy == "typical"
    diverse = curation["diversity+videos"]
    assert (diverse.policy, diverse.groups) == ("diversity", Path("clips.csv"))
    assert all(c.exact for c in curation.values())
    assert options.shared_settings()["groups"] == "clips.csv"  # JSON-ready for plan.json
