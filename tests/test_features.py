"""Data that scales: features encoded once into per-clip files by a sharded, resumable command, and read
lazily by training (memory independent of the number of clips)."""
import pytest
import torch

from chronus_lab.cli import main


def _sets(tmp_path, n=6):
    return ["--set", f"data.cache={tmp_path}/features", f"data.n_train={n}", "data.n_val=2", "data.n_test=2",
            f"out={tmp_path}/run"]


def test_the_features_command_fills_the_cache_by_shards_and_resumes(tmp_path, capsys):
    from chronus_lab.model.encoders import CachedFeatures, Encoders
    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.data import OmniDataModule
    from chronus_lab.train.module import omni_config
    from chronus_lab.world import WorldConfig, make_clip

    args = ["features", "--config", "tiny-grounding", "--splits", "train", *_sets(tmp_path)]
    assert main(args + ["--rank", "0", "--world-size", "2"]) == 0
    files = lambda: sorted((tmp_path / "features").rglob("*.safetensors"))  # noqa: E731
    assert len(files()) == 3  # clips 0, 2, 4
    assert main(args + ["--rank", "1", "--world-size", "2"]) == 0
    assert len(files()) == 6
    before = {p: p.stat().st_mtime_ns for p in files()}
    assert main(args) == 0  # a rerun finds every file: nothing is recomputed
    assert {p: p.stat().st_mtime_ns for p in files()} == before
    assert "train: 6 clips" in capsys.readouterr().out

    cfg = TrainConfig.load("tiny-grounding", _sets(tmp_path)[1:])
    encoders = Encoders(omni_config(cfg))
    data = OmniDataModule(cfg, encoders, None)
    _, clips, feats = data.encode_split("train")
    assert isinstance(feats, CachedFeatures) and len(feats) == 6 and clips[0].frames is None
    direct = encoders.clip_features(make_clip(WorldConfig.tiny(), cfg.data.seeds[0], 4))
    for key in ("vision", "audio"):
        torch.testing.assert_close(feats[4][key], direct[key])  # the file holds clip 4's features


def test_the_features_command_refuses_a_recipe_without_a_cache_and_a_bad_rank(tmp_path, capsys):
    assert main(["features", "--config", "tiny-grounding"]) == 2
    assert "no data.cache" in capsys.readouterr().err
    assert main(["features", "--config", "tiny-grounding", *_sets(tmp_path), "--rank", "2", "--world-size", "2"]) == 2
    assert "--rank" in capsys.readouterr().err
