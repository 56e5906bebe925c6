"""Stage 0: the base-model recipe still learns (quick mode), and its output loads as a tiny config."""
import json

import pytest
import torch

from chronus_lab.train.base import BaseRecipe, make_base_models
from chronus_lab.model.config import ASSETS, OmniConfig


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "tiny"
    torch.set_num_threads(1)
    return out, make_base_models(out, BaseRecipe.quick(), log=lambda *_: None)


def test_quick_recipe_learns(quick):
    _, m = quick
    c = m["curves"]
    for key in ("vision", "audio", "lm"):
        first, last = sum(c[key][:5]) / 5, sum(c[key][-5:]) / 5
        assert last < first - 0.3, f"{key} loss did not fall: {first:.2f} → {last:.2f}"
    assert m["quality"]["audio_zero_shot_accuracy"] > m["quality"]["audio_chance"]
    assert 0 <= m["quality"]["vision_probe_accuracy"] <= 1  # the manifest records the probe


def test_output_loads_as_the_tiny_config(quick):
    out, _ = quick
    assert sorted(p.name for p in out.iterdir()) == ["clap", "clip", "llm", "manifest.json", "tokenizer"]
    from chronus_lab.model.omni import OmniModel

    from chronus_lab.train.base import tiny_config_from

    model = OmniModel(tiny_config_from(out))
    assert len(model.tokenizer) == model.llm.get_input_embeddings().num_embeddings


def test_new_base_models_replace_the_old_ones_and_keep_what_else_the_folder_holds(tmp_path):
    """``chronus-lab base --out assets/tiny`` must not delete the shipped checkpoint beside the base models."""
    from chronus_lab.train.base import BASE_PARTS, install

    out, new = tmp_path / "tiny", tmp_path / ".tiny.tmp"
    for folder, text in ((out, "old"), (new, "new")):
        for part in BASE_PARTS:
            (folder / part).parent.mkdir(parents=True, exist_ok=True)
            (folder / part).write_text(text) if "." in part else (folder / part).mkdir()
        (folder / "clip" / "weights").write_text(text)
    (out / "grounding.ckpt").write_text("trained by a user")
    assert install(new, out) == ["grounding.ckpt"]
    assert (out / "grounding.ckpt").read_text() == "trained by a user"
    assert (out / "clip" / "weights").read_text() == "new" and (out / "manifest.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # nothing left behind


def test_shipped_assets_are_small_and_recorded():
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    size = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert size < 8 * 2**20, f"assets/tiny is {size / 2**20:.1f} MiB"
    q = manifest["quality"]
    assert q["vision_zero_shot_accuracy"] > 3 * q["vision_chance"]
    assert q["audio_zero_shot_accuracy"] > 3 * q["audio_chance"]
    assert set(manifest["recipe"]) >= {"vision_steps", "audio_steps", "lm_steps", "seed", "distinct_captions"}
    assert q["vision_probe_accuracy"] > 0.9 and q["audio_probe_accuracy"] > 0.95  # what bench probe prints
