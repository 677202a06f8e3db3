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
    with pytest.raises(EdgepruneError, match="already exists; pass overwrite=True"):
        check_output_dir(tmp_path / "out", overwrite=False)
    with pytest.raises(RuntimeError):
        with atomic_output_dir(tmp_path / "out", overwrite=True):
            raise RuntimeError("boom")
    assert (tmp_path / "out" / "old.txt").read_text() == "old"
    with atomic_output_dir(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MiB filesystem (tmpfs), so a full disk is the kernel's ENOSPC, not a simulation."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_nothing(small_disk):
    from edgeprune.atomic import atomic_file

    with pytest.raises(EdgepruneError, match=r"out: no space left on the device \([0-9.]+ MiB written, .* free on "):
        with atomic_output_dir(small_disk / "out") as tmp:
            (tmp / "big.bin").write_bytes(b"\0" * (4 << 20))
    with pytest.raises(EdgepruneError, match=r"cache.npy: no space left on the device"):
        with atomic_file(small_disk / "cache.npy") as tmp:
            tmp.write_bytes(b"\0" * (4 << 20))
    assert list(small_disk.iterdir()) == []


def test_a_write_larger_than_the_space_free_is_refused_before_it_starts(tmp_path):
    import shutil

    from edgeprune.atomic import check_free_space

    needs = shutil.disk_usage(tmp_path).free + (1 << 30)  # a gibibyte more than this disk has
    with pytest.raises(EdgepruneError, match=r"out: needs about [0-9.]+ GiB, but .* has [0-9.]+ GiB free; free some"):
        with atomic_output_dir(tmp_path / "out", needs=needs):
            pytest.fail("started writing")
    check_free_space(tmp_path / "deep" / "er", 1)  # a path that does not exist yet is checked at its parent
    assert list(tmp_path.iterdir()) == []


def test_curate_onto_a_full_disk_exits_2_with_one_line(small_disk, bccd, tiny_backbone, tmp_path, capsys):
    from edgeprune.cli import main

    argv = ["-q", "curate", str(bccd), "--out", str(small_disk / "pruned"), "--keep", "0.9", "-k", "3"]
    argv += ["--backbone", str(tiny_backbone), "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err  # BCCD's two point-sized boxes are a warning line before the error
    last = err.splitlines()[-1]
    assert f"{small_disk / 'pruned'}: needs about " in last and "MiB free; free some space or write elsewhere" in last
    assert list(small_disk.iterdir()) == []
