import numpy as np

from edgeprune.embed.cache import EMBEDDINGS_NAME, EmbeddingCache
from edgeprune.images import content_hash


def test_add_lookup_consolidate_and_reload(tmp_path):
    cache = EmbeddingCache(tmp_path, "key")
    keys = [content_hash(bytes([i])) for i in range(6)]
    rows = np.arange(24, dtype=np.float32).reshape(6, 4)
    cache.add(keys[:2], rows[:2])
    cache.add(keys[2:4], rows[2:4])
    assert len(list((tmp_path / "key").glob("chunk-*.npy"))) == 2

    resumed = EmbeddingCache(tmp_path, "key")
    found, missing = resumed.lookup(keys)
    assert missing == [4, 5] and set(found) == {0, 1, 2, 3}
    np.testing.assert_array_equal(found[3], rows[3])

    resumed.add(keys[4:], rows[4:])
    resumed.consolidate()
    assert not list((tmp_path / "key").glob("chunk-*"))
    stored = np.load(tmp_path / "key" / EMBEDDINGS_NAME, mmap_mode="r")
    assert isinstance(stored, np.memmap) and stored.shape == (6, 4)
    found, missing = EmbeddingCache(tmp_path, "key").lookup(keys[::-1])
    assert missing == [] and np.array_equal(np.stack([found[i] for i in range(6)]), rows[::-1])


def test_damaged_files_are_only_misses(tmp_path):
    (tmp_path / "key").mkdir()
    (tmp_path / "key" / EMBEDDINGS_NAME).write_bytes(b"garbage")
    (tmp_path / "key" / "index.json").write_text("[")
    found, missing = EmbeddingCache(tmp_path, "key").lookup(["a"])
    assert found == {} and missing == [0]


def test_two_runs_on_one_cache_never_lose_each_others_rows(tmp_path):
    """Run A has read the cache; run B adds a chunk; A consolidates: B's rows survive, A's too."""
    a, b = EmbeddingCache(tmp_path, "k"), EmbeddingCache(tmp_path, "k")
    a.add(["a1", "a2"], np.ones((2, 3)))
    assert len(a) == 2  # A has loaded what was on disk then
    b.add(["b1"], np.full((1, 3), 2.0))
    a.consolidate()
    fresh = EmbeddingCache(tmp_path, "k")
    found, missing = fresh.lookup(["a1", "a2", "b1"])
    assert not missing and found[2].tolist() == [2.0, 2.0, 2.0]
    b.add(["b2"], np.full((1, 3), 3.0))
    b.consolidate()  # B merges on top of A's merge
    found, missing = EmbeddingCache(tmp_path, "k").lookup(["a1", "a2", "b1", "b2"])
    assert not missing and not list((tmp_path / "k").glob("chunk-*"))


def test_consolidate_runs_under_an_exclusive_lock(tmp_path):
    import fcntl
    import threading
    import time

    cache = EmbeddingCache(tmp_path, "k")
    cache.add(["x"], np.ones((1, 2)))
    lock = (tmp_path / "k" / ".lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)  # another run is merging
    done = threading.Event()
    worker = threading.Thread(target=lambda: (cache.consolidate(), done.set()))
    worker.start()
    time.sleep(0.3)
    assert not done.is_set() and list((tmp_path / "k").glob("chunk-*.npy"))
    fcntl.flock(lock, fcntl.LOCK_UN)
    worker.join(5)
    assert done.is_set() and not list((tmp_path / "k").glob("chunk-*.npy"))
    lock.close()


def test_added_rows_are_served_from_disk_not_from_the_callers_array(tmp_path):
    cache = EmbeddingCache(tmp_path, "bb")
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.add(["a", "b", "c"], rows)
    rows[:] = -1  # the caller reuses its buffer
    found, missing = cache.lookup(["a", "c", "d"])
    assert missing == [2]
    np.testing.assert_array_equal(found[1], [8, 9, 10, 11])
    cache.consolidate()
    merged = np.load(tmp_path / "bb" / "embeddings.npy")
    np.testing.assert_array_equal(merged, np.arange(12, dtype=np.float32).reshape(3, 4))


def test_a_run_of_many_chunks_fits_a_small_open_file_limit(tmp_path):
    """300 chunks (a batch each) under ``ulimit -n 64``: looked up, merged and looked up again."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import resource
        import numpy as np
        from edgeprune.embed.cache import EmbeddingCache
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        cache = EmbeddingCache({str(tmp_path)!r}, "k")
        for i in range(300):
            cache.add([f"key{{i}}"], np.full((1, 4), i, np.float32))
        found, missing = EmbeddingCache({str(tmp_path)!r}, "k").lookup([f"key{{i}}" for i in range(300)])
        assert not missing and found[299].tolist() == [299.0] * 4
        cache.consolidate()
        found, missing = EmbeddingCache({str(tmp_path)!r}, "k").lookup(["key7", "nope"])
        assert missing == [1] and found[0].tolist() == [7.0] * 4
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
