import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

from edgeprune import prune
from edgeprune.cluster import KMeans
from edgeprune.curation.score import prototype_scores, streamed_scores
from edgeprune.errors import EdgepruneError


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 300),
    k=st.integers(1, 6),
    fraction=st.floats(0.0, 0.95),
    seed=st.integers(0, 1000),
    mode=st.sampled_from(["easy", "hard"]),
)
def test_in_and_out_partition_with_reference_sizes(n, k, fraction, seed, mode):
    X = np.random.default_rng(seed).normal(size=(n, 5))
    inside, outside = prune(X, keep=1 - fraction, policy=mode, clusters=k, return_="both", seed=seed)
    assert np.array_equal(np.sort(np.r_[inside, outside]), np.arange(n))
    labels, distances = prototype_scores(X.astype(np.float32), KMeans(k, random_state=seed).fit(X).cluster_centers_)
    kept = np.zeros(n, bool)
    kept[inside] = True
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        size = len(members)
        n_easy = size - math.ceil(round((1 - fraction) * size, 9))
        assert kept[members].sum() == size - n_easy
        ordered = members[np.argsort(distances[members], kind="stable")]
        kept_part = ordered[n_easy:] if mode == "hard" else ordered[: size - n_easy]
        assert kept[kept_part].all()


def test_return_modes_embed_function_and_auto_k():
    X, _ = make_blobs(400, n_features=4, centers=3, random_state=0)
    inside = prune(X, keep=0.5, clusters="auto", embed=lambda a: a * 2.0)
    outside = prune(X, keep=0.5, clusters="auto", return_="out", embed=lambda a: a * 2.0)
    assert len(inside) + len(outside) == 400 and not set(inside) & set(outside)


def test_bad_arguments():
    X = np.zeros((10, 2))
    with pytest.raises(EdgepruneError, match=r"keep fraction must be in \(0, 1\]"):
        prune(X, keep=0.0)
    with pytest.raises(EdgepruneError, match="prune needs keep"):
        prune(X)
    with pytest.raises(EdgepruneError, match="policy must be one of"):
        prune(X, keep=0.5, policy="medium")
    with pytest.raises(EdgepruneError, match="return_ must be"):
        prune(X, keep=0.5, return_="all")
    with pytest.raises(EdgepruneError, match="not both"):
        prune(X, keep=0.5, fraction=0.5)


def test_the_earlier_names_still_work_and_warn():
    X, _ = make_blobs(200, n_features=4, centers=3, random_state=1)
    with pytest.warns(DeprecationWarning, match="use keep=1 - f"):
        old = prune(X, fraction=0.3, mode="easy", clusters=3, random_state=4)
    assert np.array_equal(old, prune(X, keep=0.7, policy="easy", clusters=3, seed=4))
    with pytest.warns(DeprecationWarning), pytest.raises(EdgepruneError, match=r"prune fraction must be in \[0, 1\)"):
        prune(X, fraction=1.0)
    with pytest.raises(EdgepruneError, match="give policy or the deprecated mode, not both"):
        prune(X, keep=0.5, policy="easy", mode="hard")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_streamed_scores_match_the_in_memory_ones_block_by_block(tmp_path, metric):
    from edgeprune.curation.score import prototype_scores, streamed_scores

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(12, 16)).astype(np.float32)
    X = (centers[rng.integers(0, 12, 5000)] + rng.normal(scale=0.4, size=(5000, 16))).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    labels, distances = prototype_scores(X, centers, metric)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    streamed_labels, streamed_distances = streamed_scores(mapped, centers, metric, block_bytes=4096)  # 64-row blocks
    assert (streamed_labels == labels).mean() > 0.999  # float32 against float64: a near-tie may swap
    np.testing.assert_allclose(streamed_distances, distances, atol=1e-5)


def test_a_npy_path_is_pruned_from_disk_like_the_array_in_memory(tmp_path):
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(8, 16))[rng.integers(0, 8, 6000)] + rng.normal(scale=0.3, size=(6000, 16))).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    in_memory = set(prune(X, keep=0.5, clusters=8, normalize=True).tolist())
    from_disk = set(prune(tmp_path / "x.npy", keep=0.5, clusters=8, normalize=True, fit_rows=6000).tolist())
    assert len(in_memory & from_disk) / len(in_memory | from_disk) > 0.98  # same prototypes, float32 scores
    sampled = prune(str(tmp_path / "x.npy"), keep=0.5, clusters=8, normalize=True)  # fitted on 64 x 8 rows
    assert abs(len(sampled) - 3000) <= 8


def test_a_matrix_on_disk_is_scored_in_one_pass(tmp_path, monkeypatch):
    from edgeprune.curation import prototype_scorer

    passes = []

    def counted(rows, *args, **kwargs):
        passes.append(len(rows))
        return streamed_scores(rows, *args, **kwargs)

    monkeypatch.setattr(prototype_scorer, "streamed_scores", counted)
    np.save(tmp_path / "x.npy", np.random.default_rng(4).normal(size=(3000, 8)).astype(np.float32))
    kept = prune(tmp_path / "x.npy", keep=0.5, clusters=4, normalize=True)
    assert passes == [3000] and abs(len(kept) - 1500) <= 4


def test_a_matrix_on_disk_is_never_read_whole(tmp_path):
    import tracemalloc

    rows, dim = 1_000_000, 64  # 256 MB of float32 on disk
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(rows, dim))
    rng = np.random.default_rng(2)
    for start in range(0, rows, 100_000):
        X[start : start + 100_000] = rng.normal(size=(100_000, dim)).astype(np.float32)
    X.flush()
    del X
    tracemalloc.start()
    kept = prune(tmp_path / "big.npy", keep=0.3, clusters=8, normalize=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(len(kept) - 300_000) <= 8
    assert peak < 0.5 * rows * dim * 4, f"peak {peak / 2**20:.0f} MiB of allocations for a 244 MiB matrix"


def test_bad_matrices_on_disk_are_clear_errors(tmp_path):
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(EdgepruneError, match=r"junk.npy: not a readable .npy matrix"):
        prune(tmp_path / "junk.npy", keep=0.5)
    X = np.ones((100, 4), np.float32)
    X[57, 2] = np.nan
    np.save(tmp_path / "nan.npy", X)
    with pytest.raises(EdgepruneError, match=r"NaN or infinite values \(row 57\)"):
        prune(tmp_path / "nan.npy", keep=0.5, clusters=2, fit_rows=10, seed=3)
    np.save(tmp_path / "ok.npy", np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32))
    with pytest.raises(EdgepruneError, match="policy=coreset reads the samples themselves: load X into memory"):
        prune(tmp_path / "ok.npy", keep=0.5, clusters=2, policy="coreset")
