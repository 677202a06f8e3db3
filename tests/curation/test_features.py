import numpy as np
import pytest

from edgeprune.curation.features import scoring_features
from edgeprune.storage import BLOCK_BYTES, blocks
from edgeprune.vectors import center, l2_normalize


@pytest.fixture
def spill_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPRUNE_SPILL_MIB", str(1 / 1024))
    monkeypatch.setenv("EDGEPRUNE_SCRATCH", str(tmp_path / "scratch"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_by_block_equals_the_whole_matrix_at_once(dtype, monkeypatch):
    monkeypatch.setattr("edgeprune.curation.features.blocks", lambda n, row_bytes: blocks(n, BLOCK_BYTES // 7))
    X = (np.random.default_rng(0).normal(size=(100, 12)) + 3).astype(dtype)
    np.testing.assert_array_equal(scoring_features(X), l2_normalize(center(X)))
    np.testing.assert_array_equal(scoring_features(X, center=False), l2_normalize(X))
    assert scoring_features(X, center=False).dtype == dtype
    np.testing.assert_array_equal(scoring_features(X, normalize=False), center(X))
    assert scoring_features(X, center=False, normalize=False) is X


def test_a_memory_mapped_matrix_gives_a_spilled_one(tmp_path, spill_everything):
    X = np.random.default_rng(1).normal(size=(500, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    features = scoring_features(np.load(tmp_path / "x.npy", mmap_mode="r"))
    assert isinstance(features, np.memmap)
    np.testing.assert_array_equal(features, l2_normalize(center(X)))
