"""The shipped checkpoint: small, loadable, and the one the README's table was printed from."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from chronus_lab.errors import CheckpointError
from chronus_lab.model.config import ASSETS
from chronus_lab.train.config import TrainConfig
from chronus_lab.train.module import CONFIG_KEY, load_checkpoint
from chronus_lab.train.ship import KEEP, base_hash, card_path, config_hash, ship, shipped

README = Path(__file__).resolve().parents[1] / "README.md"


def test_config_hash_tells_configs_apart():
    a, b = TrainConfig.load("tiny-grounding"), TrainConfig.load("tiny-grounding", ["lr=0.001"])
    assert config_hash(a) == config_hash(a.to_dict()) == config_hash(TrainConfig.load("tiny-grounding"))
    assert config_hash(a) != config_hash(b)


@pytest.mark.parametrize("name, recipe", [("grounding", "tiny-grounding"),
                                          ("grounding-any-length", "tiny-grounding-any-length")])
def test_the_shipped_model_is_the_recipe_the_card_and_the_readme_name(name, recipe):
    path = shipped(name)
    card = json.loads(card_path(name).read_text())
    raw = torch.load(path, map_location="cpu", weights_only=False)
    assert set(raw) <= set(KEEP)  # no optimiser or loop state: small
    assert path.stat().st_size < 2 * 2**20
    assert config_hash(raw[CONFIG_KEY]) == card["recipe_config_hash"]  # the config it was trained with
    # … is the packaged recipe (read through today's TrainConfig: fields added later take their defaults),
    # up to where the run wrote its files and whether it drew a progress bar — neither changes a weight
    where = ("out", "progress_bar")
    trained = {k: v for k, v in TrainConfig.from_dict(raw[CONFIG_KEY]).to_dict().items() if k not in where}
    assert trained == {k: v for k, v in TrainConfig.load(recipe).to_dict().items() if k not in where}
    assert card["base_hash"] == base_hash()
    module = load_checkpoint(path)  # strict: exactly the weights the recipe trains
    assert sum(v.numel() for v in raw["state_dict"].values()) == card["trainable_parameters"]
    assert module.loaded_from["global_step"] == card["global_step"]
    model = {r["task"]: r for r in card["table"] if r["who"] == "model"}
    readme = README.read_text()
    assert card["recipe_config_hash"] in readme
    for task, metric in (("explicit (v2t+a2t)", "mIoU"), ("implicit (a2v+v2a)", "acc")):
        assert f"{model[task][metric]:.3f}" in readme


def test_ship_writes_a_slim_checkpoint_that_loads_the_same_weights(tmp_path):
    src = shipped("grounding")
    card = ship(src, "copy", [{"task": "t", "who": "model", "n": 1}], "chronus-lab eval …", folder=tmp_path)
    assert (tmp_path / "copy.ckpt").is_file() and json.loads((tmp_path / "copy.json").read_text()) == card
    assert not list(tmp_path.glob("*.tmp"))
    a, b = load_checkpoint(src).state_dict(), load_checkpoint(tmp_path / "copy.ckpt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_shipped_name_is_a_plain_file_name(tmp_path, capsys):
    """``--name ../evil`` wrote beside assets/tiny and ``--name ''`` a hidden ``.ckpt``; now refused, before the
    evaluation (the CLI would otherwise evaluate for minutes first), and nothing is written."""
    from chronus_lab.cli import main
    from chronus_lab.errors import ConfigError

    for bad in ("../evil", "", "a/b", ".hidden", "x."):
        with pytest.raises(ConfigError, match="plain file name"):
            ship(shipped("grounding"), bad, [], "…", folder=tmp_path / "assets")
        assert main(["ship", "--ckpt", str(shipped("grounding")), "--name", bad]) == 2
        assert "plain file name" in capsys.readouterr().err
    assert not (tmp_path / "assets").exists() and not (tmp_path / "evil.ckpt").exists()
    assert sorted(p.name for p in ASSETS.glob("*.ckpt")) == ["grounding-any-length.ckpt", "grounding.ckpt"]


def test_a_shipped_model_that_does_not_fit_the_base_models_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no shipped checkpoint 'grounding'"):
        shipped("grounding", folder=tmp_path)
    for name in ("grounding.ckpt", "grounding.json"):
        shutil.copy(ASSETS / name, tmp_path / name)
    shutil.copytree(ASSETS / "llm", tmp_path / "llm")  # a folder whose base models differ (two are missing)
    with pytest.raises(CheckpointError, match="other base models"):
        shipped("grounding", folder=tmp_path)


@pytest.mark.parametrize("damage, words", [
    (lambda raw: raw[: len(raw) // 2], "not a readable card"),  # cut short
    (lambda raw: b"\xff" + raw, "not a readable card"),  # not UTF-8
    (lambda raw: json.dumps({k: v for k, v in json.loads(raw).items() if k != "base_hash"}).encode(),
     r"lacks \['base_hash'\]"),
    (lambda raw: b"[]", "lacks")])
def test_a_damaged_card_is_one_clear_error(tmp_path, damage, words):
    for name in ("grounding.ckpt", "grounding.json"):
        shutil.copy(ASSETS / name, tmp_path / name)
    card = tmp_path / "grounding.json"
    card.write_bytes(damage(card.read_bytes()))
    with pytest.raises(CheckpointError, match=words):
        shipped("grounding", folder=tmp_path)
