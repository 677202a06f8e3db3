"""``curate --runner beam`` on Beam's Dask runner against a real ``dask.distributed`` cluster: two worker processes
on 127.0.0.1 (ports chosen by the OS), started and shut down here. The result is byte-identical to the local runner,
the work runs in the worker processes, and a scheduler that does not answer is a one-line error before any work."""

import json
import socket

import pytest

pytest.importorskip("apache_beam")
distributed = pytest.importorskip("distributed")

from edgeprune.beam.inference import cached_backbone  # noqa: E402
from tests.curation.conftest import assert_same_result  # noqa: E402


def _loaded_backbones() -> int:
    return cached_backbone.cache_info().currsize


def test_dask_cluster_gives_the_local_result_on_bccd(curate, bccd, tmp_path, dask_cluster):
    address, client = dask_cluster
    cached_backbone.cache_clear()  # earlier in-process Beam runs may have loaded it here
    code, local = curate(bccd, "--keep", "0.4", "-k", "6", out="local")
    assert code == 0
    flags = f"--beam-options=--runner=DaskRunner --dask_client_address={address}"
    code, dask = curate(bccd, "--keep", "0.4", "-k", "6", flags, out="dask", beam=True)
    assert code == 0
    assert (local / "scores.csv").read_bytes() == (dask / "scores.csv").read_bytes()
    assert_same_result(local, dask)  # and the pruned VOC set the workers copied, byte for byte
    # the backbone ran in the worker processes, not in this one
    assert _loaded_backbones() == 0
    assert sum(client.run(_loaded_backbones).values()) >= 1
    units = list((tmp_path / "work").glob("embed-*/embeddings-*.npz"))
    assert len(units) == 2  # 364 images in units of 256, each its own Dask partition
    assert json.loads((dask / "summary.json").read_text())["runner"] == "beam"


def test_dask_runner_by_short_name_on_tfrecords(curate, digits_coco, tmp_path, dask_cluster):
    address, _ = dask_cluster
    code, _ = curate(digits_coco, "--keep", "1", "--out-format", "tfrecord", out="records")
    records = tmp_path / "records" / "pruned"
    code, local = curate(records, "-k", "3", "--dedup", "0.95", out="local")
    assert code == 0
    code, dask = curate(
        records, "-k", "3", "--dedup", "0.95", f"--beam-options=--runner=dask --dask_client_address={address}",
        out="dask", beam=True,
    )  # fmt: skip
    assert code == 0
    assert_same_result(local, dask)  # the shard the workers wrote equals the local writer's


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "flags, message",
    [
        ("--runner=DaskRunner --dask_client_address=tcp://127.0.0.1:{port} --dask_connection_timeout=2",
         "cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"),
        ("--runner=DaskRunner", "needs --dask_client_address"),
        ("--runner=DaskRuner --dask_client_address=tcp://127.0.0.1:1", "unknown runner 'DaskRuner'"),
        ("--runner=DaskRunner --dask_client_adress=tcp://127.0.0.1:1", "unknown Beam flags --dask_client_adress"),
    ],
)  # fmt: skip
def test_bad_dask_options_are_one_line_errors_before_any_work(curate, digits_coco, tmp_path, capsys, flags, message):
    port = _free_port()
    code, out = curate(digits_coco, f"--beam-options={flags.format(port=port)}", beam=True)
    assert code == 2 and not out.exists() and not (tmp_path / "work").exists()
    err = capsys.readouterr().err
    assert message.format(port=port) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
