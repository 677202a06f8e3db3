"""Options are composed of frozen parts; flat names (the CLI's, the Python API's) go into the part that holds them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edgeprune.curation.types import (
    PARTS,
    ClusteringSettings,
    CurateOptions,
    DatasetReading,
    EmbeddingSettings,
    ExecutionSettings,
    OutputSettings,
    SelectionSettings,
    compose_options,
    option_fields,
)
from edgeprune.leaks import LeakOptions
from edgeprune.next_batch import SelectOptions
from edgeprune.splits import SplitOptions


def test_flat_names_fill_the_parts_and_the_rest():
    options = compose_options(
        CurateOptions, {"out": Path("o"), "keep": 0.3, "backbone": "bb", "image_size": 96, "split": "train"}
    )
    assert options.selection.keep == 0.3 and options.out == Path("o")
    assert options.embedding == EmbeddingSettings(backbone="bb", image_size=96)
    assert options.reading == DatasetReading(split="train")


def test_parts_are_frozen_and_shared_by_the_commands_that_embed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EmbeddingSettings().backbone = "other"
    for options_class in (CurateOptions, LeakOptions, SplitOptions, SelectOptions):
        assert {"backbone", "cache_dir", "embeddings"} <= set(option_fields(options_class))
        assert "embedding" not in option_fields(options_class)  # the part itself is not a flat name
    assert {"format", "map_categories"} <= set(option_fields(SelectOptions))
    assert option_fields(CurateOptions)["cache_dir"].startswith("Path")


def test_an_unknown_name_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="unknown option.*backbon"):
        compose_options(CurateOptions, {"out": Path("o"), "backbon": "x"})


def test_each_flat_name_belongs_to_one_part():
    names = [f.name for part in PARTS.values() for f in dataclasses.fields(part)]
    assert len(names) == len(set(names))
    top = {f.name for f in dataclasses.fields(CurateOptions)}
    assert top == {"out", "seed", "progress", "embedding", "reading", "clustering", "selection", "output", "execution"}


def test_the_curate_command_line_fills_every_part():
    from edgeprune.cli import build_parser
    from edgeprune.cli.common import options_from_args

    argv = ["curate", "data", "--out", "o", "--prune", "0.3", "--policy", "easy", "-k", "7", "--no-center"]
    argv += ["--image-mode", "symlink", "--runner", "local", "--backbone", "bb", "--split", "train"]
    options = options_from_args(CurateOptions, build_parser().parse_args(argv), keep=0.7)
    assert options.selection == SelectionSettings(keep=0.7, policy="easy")
    assert options.clustering == ClusteringSettings(clusters="7", center=False)
    assert options.output.image_mode == "symlink" and options.execution == ExecutionSettings()
    assert options.output == OutputSettings(image_mode="symlink")
    assert options.embedding.backbone == "bb" and options.reading.split == "train"
