import os

import numpy as np
import pytest

from edgeprune import storage
from edgeprune.errors import EdgepruneError
from edgeprune.storage import BLOCK_BYTES, blocks, default_cache_root, empty_rows, scratch_dir, spill_bytes


@pytest.fixture
def spill_everything(tmp_path, monkeypatch):
    """Every matrix above 1 KiB spills into ``tmp_path/scratch``."""
    monkeypatch.setenv("EDGEPRUNE_SPILL_MIB", str(1 / 1024))
    monkeypatch.setenv("EDGEPRUNE_SCRATCH", str(tmp_path / "scratch"))
    return tmp_path / "scratch"


def test_small_matrices_stay_in_memory():
    rows = empty_rows(10, 4)
    assert type(rows) is np.ndarray and rows.shape == (10, 4) and rows.dtype == np.float32


def test_large_matrices_spill_to_an_unlinked_scratch_file(spill_everything):
    rows = empty_rows(1000, 16, np.float64)
    assert isinstance(rows, np.memmap) and rows.shape == (1000, 16) and rows.dtype == np.float64
    rows[:] = np.arange(16000, dtype=np.float64).reshape(1000, 16)
    assert rows[999, 15] == 15999 and float(rows.sum()) == 15999 * 16000 / 2
    assert spill_everything.is_dir() and not os.listdir(spill_everything)  # nothing outlives the process


def test_a_scratch_dir_without_room_is_named(spill_everything, monkeypatch):
    monkeypatch.setattr(storage, "free_bytes", lambda path: (spill_everything, 100))
    with pytest.raises(
        EdgepruneError, match=f"{spill_everything}: a 62.5 KiB scratch matrix does not fit.*EDGEPRUNE_SCRATCH"
    ):
        empty_rows(1000, 16)


def test_bad_settings_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPRUNE_SPILL_MIB", "lots")
    with pytest.raises(EdgepruneError, match="EDGEPRUNE_SPILL_MIB='lots': expected a number of MiB"):
        empty_rows(10, 4)
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("EDGEPRUNE_SPILL_MIB", "0")
    monkeypatch.setenv("EDGEPRUNE_SCRATCH", str(tmp_path / "a_file" / "scratch"))
    with pytest.raises(EdgepruneError, match="a_file/scratch: cannot hold scratch files.*EDGEPRUNE_SCRATCH"):
        empty_rows(10, 4)


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEPRUNE_SPILL_MIB", raising=False)
    monkeypatch.delenv("EDGEPRUNE_SCRATCH", raising=False)
    monkeypatch.setenv("EDGEPRUNE_CACHE", str(tmp_path))
    assert spill_bytes() == 256 * 2**20
    assert default_cache_root() == tmp_path and scratch_dir() == tmp_path / "scratch"


def test_blocks_cover_every_row_once():
    parts = list(blocks(10, BLOCK_BYTES // 3))
    assert [p.stop - p.start for p in parts] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([np.arange(10)[p] for p in parts]), np.arange(10))
    assert list(blocks(0, 8)) == [] and len(list(blocks(2, 10 * BLOCK_BYTES))) == 2  # one row at least
