"""Fixtures of the curation tests: ``curate`` on the CLI with the tiny backbone, and how two runs are compared."""

import csv

import numpy as np
import pytest

from edgeprune.cli import main
from tests.cli.test_curate import tree_digest
from tests.curation.golden import kept_problems


@pytest.fixture
def curate(tmp_path, tiny_backbone):
    """``curate DATASET --out tmp/<out>`` (or ``out_uri``) with the tiny backbone; ``beam=True`` adds ``--runner
    beam`` with ``--work-dir tmp/<work>`` (or ``work``, a URI)."""

    def _run(dataset, *args, out="out", beam=False, work="work", out_uri=None):
        target = out_uri or str(tmp_path / out)
        argv = ["-q", "curate", str(dataset), "--out", target, "--cache-dir", str(tmp_path / "cache")]
        argv += ["--backbone", str(tiny_backbone), "--image-size", "32", "--map-points", "0", *map(str, args)]
        if beam:
            argv += ["--runner", "beam", "--work-dir", work if "://" in work else str(tmp_path / work)]
        return main(argv), tmp_path / out

    return _run


def scores(out):
    """``scores.csv`` of a curate output, by image."""
    with (out / "scores.csv").open() as fh:
        return {row["image"]: row for row in csv.DictReader(fh)}


def assert_same_result(local, beam):
    """Same clusters, distances within float drift (the runners batch images differently), the same kept set up
    to swaps of near-tied images, and byte-identical pruned datasets when the kept sets are equal."""
    a, b = scores(local), scores(beam)
    assert a.keys() == b.keys()
    assert [a[k]["cluster"] for k in a] == [b[k]["cluster"] for k in a]
    distance = {k: float(a[k]["distance"]) for k in a}
    np.testing.assert_allclose(list(distance.values()), [float(b[k]["distance"]) for k in a], rtol=1e-4, atol=1e-5)
    kept_a, kept_b = [k for k in a if a[k]["kept"] == "1"], [k for k in a if b[k]["kept"] == "1"]
    assert not kept_problems(kept_a, kept_b, distance)
    if kept_a == kept_b:
        assert tree_digest(local / "pruned") == tree_digest(beam / "pruned")


@pytest.fixture(scope="module")
def dask_cluster():
    """A ``distributed.LocalCluster`` of 2 single-threaded worker processes on 127.0.0.1 (ports chosen by the OS);
    yields ``(scheduler address, client)`` and shuts it down after the test module, so that its workers (each holding
    TensorFlow and a backbone) do not outlive the tests that use them."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster.scheduler_address, client
