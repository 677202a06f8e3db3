"""Library errors name parameters (``clusters=99``); the command line prints them as flags (``--clusters 99``)."""

from __future__ import annotations

from edgeprune.cli import build_parser
from edgeprune.cli.flag_names import with_flag_names


def test_parameters_become_the_subcommands_flags():
    curate = build_parser().commands["curate"]
    assert with_flag_names("clusters=99 is larger than the number of samples (43)", curate) == (
        "--clusters 99 is larger than the number of samples (43)"
    )
    assert with_flag_names("object_clusters=x: unknown", curate) == "--object-clusters x: unknown"


def test_other_equals_signs_are_left_alone():
    curate = build_parser().commands["curate"]
    for text in ("--map-categories 'car=vehicle': no class car", "k=3 as given", "a == b", "clusters = 3"):
        assert with_flag_names(text, curate) == text


def test_a_parameter_the_subcommand_lacks_stays_as_written():
    benchmark = build_parser().commands["benchmark"]
    assert with_flag_names("clusters=99 is too many", benchmark) == "clusters=99 is too many"


def test_a_switch_set_true_is_its_flag_alone():
    curate = build_parser().commands["curate"]
    assert with_flag_names("out: output already exists; pass overwrite=True to replace it", curate) == (
        "out: output already exists; pass --overwrite to replace it"
    )
    assert with_flag_names("image_mode=symlink cannot link objects; use image_mode=copy", curate) == (
        "--image-mode symlink cannot link objects; use --image-mode copy"
    )
