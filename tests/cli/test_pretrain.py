import json

from edgeprune.cli import main


def test_pretrain_then_curate_with_it_and_with_the_selfsup_default(tmp_path, digits_coco, capsys):
    backbone = tmp_path / "bb"
    code = main(["-q", "pretrain", str(digits_coco), "--out", str(backbone), "--steps", "3", "--batch-size", "8"])
    assert code == 0 and "loss" in capsys.readouterr().out
    assert json.loads((backbone / "backbone.json").read_text())["steps"] == 3

    code = main(
        [
            "-q",
            "curate",
            str(digits_coco),
            "--out",
            str(tmp_path / "a"),
            "--backbone",
            str(backbone),
            "-k",
            "3",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["images_after"] > 0

    args = ["-q", "curate", str(digits_coco), "-k", "3", "--pretrain-steps", "2", "--cache-dir", str(tmp_path / "c2")]
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    cached = list((tmp_path / "c2" / "backbones").iterdir())
    assert len(cached) == 1 and (cached[0] / "saved_model.pb").is_file()
    assert main(args + ["--out", str(tmp_path / "c")]) == 0
    assert list((tmp_path / "c2" / "backbones").iterdir()) == cached
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["embeddings_cached"] == 43 and summary["seconds"]["pretrain"] < 1.0


def test_pretrain_bad_image_size(tmp_path, digits_coco, capsys):
    assert main(["pretrain", str(digits_coco), "--out", str(tmp_path / "x"), "--image-size", "100"]) == 2
    assert "--image-size must be one of" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
