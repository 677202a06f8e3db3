"""``curate --runner beam`` on Beam's in-process FnApiRunner: the same kept set as the local runner, resumable stages,
bad images listed, bad options refused before any work."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("apache_beam")

from edgeprune.cli import main  # noqa: E402
from edgeprune.datasets import read_dataset  # noqa: E402
from tests.curation.conftest import assert_same_result, scores  # noqa: E402


def test_beam_keeps_what_local_keeps_on_bccd(curate, bccd, tmp_path):
    code, local = curate(bccd, "--keep", "0.4", "-k", "6", out="local")
    assert code == 0
    code, beam = curate(bccd, "--keep", "0.4", "-k", "6", out="beam", beam=True)
    assert code == 0
    assert_same_result(local, beam)
    summary = json.loads((beam / "summary.json").read_text())
    assert summary["runner"] == "beam" and json.loads((local / "summary.json").read_text())["runner"] == "local"
    assert any("stages reused: none" in note for note in summary["notes"])
    stages = sorted(p.name.split("-")[0] for p in (tmp_path / "work").iterdir() if (p / "_SUCCESS").exists())
    assert stages == ["embed", "fit", "manifest", "score"]
    assert list((tmp_path / "work").glob("embed-*/embeddings-*.npz"))

    # other pruning settings reuse the manifest and embeddings; only fit and score run again
    code, again = curate(bccd, "--keep", "0.4", "-k", "5", out="again", beam=True)
    assert code == 0
    notes = json.loads((again / "summary.json").read_text())["notes"]
    assert any("stages reused: manifest, embed" in note for note in notes)


def test_failed_stage_leaves_finished_ones_for_the_rerun(curate, digits_coco, monkeypatch, capsys):
    from edgeprune.curation.runners import beam_stages as beam_curate

    real = beam_curate._score_batch

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(beam_curate, "_score_batch", broken)
    code, out = curate(digits_coco, "-k", "3", beam=True)
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "beam stage score failed" in err and "disk full" in err and "Traceback" not in err

    monkeypatch.setattr(beam_curate, "_score_batch", real)
    code, out = curate(digits_coco, "-k", "3", beam=True)
    assert code == 0
    notes = json.loads((out / "summary.json").read_text())["notes"]
    assert any("stages reused: manifest, embed, cluster" in note for note in notes)
    code, local = curate(digits_coco, "-k", "3", out="local")
    assert_same_result(local, out)


def test_a_killed_stage_is_redone_from_scratch(curate, digits_coco, tmp_path):
    code, first = curate(digits_coco, "-k", "3", out="first", beam=True)
    assert code == 0
    (score,) = (tmp_path / "work").glob("score-*")
    (score / "_SUCCESS").unlink()  # as if killed while writing its shards
    (score / "scores-00007-of-00009.csv").write_text("0,99,0.5\n")
    code, again = curate(digits_coco, "-k", "3", out="again", beam=True)
    assert code == 0
    notes = json.loads((again / "summary.json").read_text())["notes"]
    assert any("stages reused: manifest, embed, cluster" in note for note in notes)
    assert not (score / "scores-00007-of-00009.csv").exists() and (score / "_SUCCESS").exists()
    assert (first / "scores.csv").read_text() == (again / "scores.csv").read_text()


def test_corrupt_image_is_listed_not_fatal(curate, digits_coco, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(digits_coco, data)
    victim = sorted((data / "images").iterdir())[5]
    victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])  # the header still reads; decoding fails
    code, out = curate(data, "-k", "3", beam=True)
    assert code == 0
    rows = scores(out)
    assert victim.name not in rows and len(rows) == 42
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_before"] == 42
    assert any(victim.name in note and "could not be read or decoded" in note for note in summary["notes"])
    (listing,) = (tmp_path / "work").glob("embed-*/bad_images-*.jsonl")
    (bad,) = [json.loads(line) for line in listing.read_text().splitlines()]
    assert bad["name"].endswith(victim.name) and bad["error"]
    # with every embedding on the driver (dedup, coreset) the bad image is left out the same way
    code, out = curate(data, "-k", "3", "--dedup", "0.95", "--policy", "coreset", out="exact", beam=True)
    assert code == 0 and victim.name not in scores(out) and len(scores(out)) == 42


def test_tfrecord_input_and_two_worker_processes(curate, digits_coco, tmp_path):
    code, _ = curate(digits_coco, "--keep", "1", "--out-format", "tfrecord", out="records")
    assert code == 0
    records = tmp_path / "records" / "pruned"
    code, local = curate(records, "-k", "3", out="local")
    assert code == 0
    workers = "--runner=FnApiRunner --direct_num_workers=2 --direct_running_mode=multi_processing"
    code, beam = curate(records, "-k", "3", f"--beam-options={workers}", out="beam", beam=True)
    assert code == 0
    assert_same_result(local, beam)  # the shards the workers wrote equal the local writer's, byte for byte
    assert len(read_dataset(beam / "pruned")) == sum(int(r["kept"]) for r in scores(beam).values())
    notes = json.loads((beam / "summary.json").read_text())["notes"]
    assert any("0 image files and 1 TFRecord shards written by the Beam workers" in note for note in notes)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--runner", "beam"], "--runner beam needs a work directory: --work-dir PATH"),
        (["--runner", "beam", "--work-dir", "W", "--beam-options=--runner=FnApiRunner --no_such_flag=1"],
         "unknown Beam flags --no_such_flag=1"),
        (["--runner", "beam", "--work-dir", "W", "--beam-options=--runner=NoSuchRunner"], "unknown runner"),
        (["--runner", "beam", "--work-dir", "W", "--level", "object"], "--level object runs on one machine"),
        (["--work-dir", "W"], "applies to --runner beam only"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_before_any_work(curate, digits_coco, tmp_path, capsys, args, message):
    args = [str(tmp_path / a) if a == "W" else a for a in args]
    code, out = curate(digits_coco, *args)
    assert code == 2 and not out.exists() and not (tmp_path / "W").exists()
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_backbone_fails_before_any_stage(tmp_path, digits_coco, capsys):
    argv = ["-q", "curate", str(digits_coco), "--out", str(tmp_path / "out"), "--backbone", str(tmp_path / "nope")]
    code = main([*argv, "--runner", "beam", "--work-dir", str(tmp_path / "work")])
    assert code == 2 and "nope" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_dedup_and_coreset_read_every_embedding_and_match_local(curate, digits_coco):
    args = ["-k", "3", "--dedup", "0.95", "--policy", "coreset", "--save-embeddings"]
    code, local = curate(digits_coco, *args, out="local")
    assert code == 0
    code, beam = curate(digits_coco, *args, out="beam", beam=True)
    assert code == 0
    assert_same_result(local, beam)
    assert [r["duplicate_of"] for r in scores(local).values()] == [r["duplicate_of"] for r in scores(beam).values()]
    with np.load(local / "embeddings.npz") as a, np.load(beam / "embeddings.npz") as b:
        assert list(a["keys"]) == list(b["keys"])
        np.testing.assert_allclose(a["embeddings"], b["embeddings"], rtol=1e-4, atol=1e-5)  # other batches


def test_without_beam_installed_the_error_says_what_to_install(curate, digits_coco, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import apache_beam now raises ImportError
    code, out = curate(digits_coco, beam=True)
    assert code == 2 and not out.exists()
    assert "pip install 'edgeprune[beam]'" in capsys.readouterr().err
