import numpy as np

from edgeprune.embed.cache import EMBEDDINGS_NAME, EmbeddingCache, content_hash


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
