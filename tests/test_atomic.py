import pytest

from edgeprune.atomic import atomic_output_dir, check_output_dir
from edgeprune.errors import EdgepruneError


def test_success_renames_into_place(tmp_path):
    with atomic_output_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("x")
        assert not (tmp_path / "out").exists()
    assert (tmp_path / "out" / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_output_dir(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite_and_survives_failure(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with pytest.raises(EdgepruneError, match="already exists; pass --overwrite"):
        check_output_dir(tmp_path / "out", overwrite=False)
    with pytest.raises(RuntimeError):
        with atomic_output_dir(tmp_path / "out", overwrite=True):
            raise RuntimeError("boom")
    assert (tmp_path / "out" / "old.txt").read_text() == "old"
    with atomic_output_dir(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]
