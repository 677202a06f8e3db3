"""``curate --runner beam`` with the dataset, ``--out`` and ``--work-dir`` in S3: a real S3-compatible server (moto's
server mode, a separate process on 127.0.0.1) started here, BCCD uploaded with boto3, curated from ``s3://`` into
``s3://``, and the written objects checked with boto3 against a local run. Bad buckets and refused credentials are
one-line errors before anything is written."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("apache_beam")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

ACCESS = ("--s3_access_key_id=testing", "--s3_secret_access_key=testing", "--s3_region_name=us-east-1")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(tmp_path_factory, **env):
    """A moto S3 server process on a free port; returns ``(process, endpoint URL)`` once it answers."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the moto server did not start")


@pytest.fixture(scope="module")
def s3(tmp_path_factory, bccd):
    """``(endpoint, boto3 client)`` of a server holding bucket ``data`` with BCCD under ``BCCD/``."""
    process, endpoint = _start_server(tmp_path_factory)
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
        region_name="us-east-1",
    )  # fmt: skip
    client.create_bucket(Bucket="data")
    for path in sorted(bccd.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), "data", f"BCCD/{path.relative_to(bccd).as_posix()}")
    yield endpoint, client
    process.terminate()
    process.wait(10)


def _keys(client, prefix: str) -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="data", Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix) :]] = item["Key"]
    return found


def _body(client, key: str) -> bytes:
    return client.get_object(Bucket="data", Key=key)["Body"].read()


def _flags(endpoint: str, runner: str = "--runner=FnApiRunner") -> str:
    return "--beam-options=" + " ".join([runner, f"--s3_endpoint_url={endpoint}", *ACCESS])


def test_curate_from_s3_into_s3_equals_the_local_run(curate, bccd, s3, tmp_path):
    endpoint, client = s3
    code, local = curate(bccd, "--keep", "0.4", "-k", "6", out="local")
    assert code == 0
    code, _ = curate(
        "s3://data/BCCD", "--keep", "0.4", "-k", "6", _flags(endpoint), out="unused", beam=True,
        work="s3://data/work", out_uri="s3://data/out",
    )  # fmt: skip
    assert code == 0
    written = _keys(client, "out/")
    assert _body(client, written["scores.csv"]) == (local / "scores.csv").read_bytes()
    local_files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert set(written) == local_files
    for name in [n for n in local_files if n.startswith("pruned/")]:  # the pruned VOC set, byte for byte
        assert _body(client, written[name]) == (local / name).read_bytes(), name
    summary = json.loads(_body(client, written["summary.json"]))
    assert (
        summary["runner"] == "beam"
        and summary["images_after"] == json.loads((local / "summary.json").read_text())["images_after"]
    )
    assert _keys(client, "work/") and not [k for k in _keys(client, "") if ".partial-" in k or ".probe-" in k]
    assert not list(tmp_path.glob("unused*"))


def test_dask_workers_read_and_write_s3(curate, digits_coco, s3, tmp_path, dask_cluster):
    """TFRecord shards in S3, read and written by Dask worker processes that share nothing with the driver but
    the S3 server."""
    endpoint, client = s3
    address, _ = dask_cluster
    code, _ = curate(digits_coco, "--keep", "1", "--out-format", "tfrecord", out="records")
    records = tmp_path / "records" / "pruned"
    for path in sorted(records.iterdir()):
        client.upload_file(str(path), "data", f"digits/{path.name}")
    code, local = curate(records, "-k", "3", out="local")
    assert code == 0
    runner = f"--runner=DaskRunner --dask_client_address={address}"
    code, _ = curate(
        "s3://data/digits", "-k", "3", _flags(endpoint, runner), out="unused", beam=True, work="s3://data/w-digits",
        out_uri="s3://data/out-digits",
    )  # fmt: skip
    assert code == 0
    written = _keys(client, "out-digits/")
    assert _body(client, written["scores.csv"]) == (local / "scores.csv").read_bytes()
    shards = sorted(n for n in written if n.startswith("pruned/") and "record" in n)
    assert shards and all(_body(client, written[n]) == (local / n).read_bytes() for n in shards)


@pytest.mark.parametrize(
    "dataset, out, work, message",
    [
        ("s3://nobucket/BCCD", "s3://data/o1", "s3://data/w1", "read the dataset: s3://nobucket/BCCD"),
        ("s3://data/BCCD", "s3://nobucket/out", "s3://data/w2", "write --out: s3://nobucket/out"),
        ("s3://data/BCCD", "s3://data/o3", "s3://nobucket/work", "--work-dir: s3://nobucket/work"),
        ("s3://data/nothing-here", "s3://data/o4", "s3://data/w4", "s3://data/nothing-here: no such object"),
    ],
)  # fmt: skip
def test_missing_buckets_are_one_line_errors(curate, s3, capsys, dataset, out, work, message):
    endpoint, client = s3
    before = set(_keys(client, ""))
    code, _ = curate(dataset, _flags(endpoint), out="unused", beam=True, work=work, out_uri=out)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert set(_keys(client, "")) == before  # nothing written


def test_refused_credentials_are_one_line_errors(curate, tmp_path_factory, capsys):
    process, endpoint = _start_server(tmp_path_factory, INITIAL_NO_AUTH_ACTION_COUNT="0")  # every key is refused
    try:
        code, _ = curate(
            "s3://data/BCCD", _flags(endpoint), out="unused", beam=True, work="s3://data/w", out_uri="s3://data/out"
        )
    finally:
        process.terminate()
        process.wait(10)
    assert code == 2
    err = capsys.readouterr().err
    assert "s3://data/" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_s3_needs_the_beam_runner(curate, capsys):
    code, _ = curate("s3://data/BCCD", out="unused", out_uri="s3://data/out")
    assert code == 2 and "need --runner beam" in capsys.readouterr().err
