"""The explorer's view model (what each panel shows) checked against the world's truth and against
pixels; the widget layer driven from Python (the browser test drives it from JupyterLab)."""
import io
import re
import wave

import numpy as np
import pytest
import torch

from chronus_lab.errors import ChronusError, ConfigError, DataError


@pytest.fixture(scope="module")
def view():
    from chronus_lab.viz.explorer_view import ExplorerView

    return ExplorerView.shipped()


@pytest.fixture(scope="module")
def clip(view):
    return view.open(index=3)


def test_the_slice_holding_a_time_is_found_by_brute_force(clip):
    """Every time on a fine grid: the slice is the one whose [start, end) holds it (the end: the last)."""
    for t in np.arange(0, clip.clip.duration + 1e-9, 0.05):
        t = round(float(t), 4)
        want = [sl.index for sl in clip.slices if sl.start <= t < sl.end] or [len(clip.slices) - 1]
        assert clip.slice_at(t).index == want[0], t
    for bad in (-0.1, clip.clip.duration + 0.5, float("nan"), "2"):
        with pytest.raises(DataError, match="outside the clip"):
            clip.slice_at(bad)


def test_a_moment_shows_the_worlds_truth(clip, view):
    fps = clip.clip.fps
    for t in (0.0, 1.3, 2.3, 5.75, clip.clip.duration):
        st = clip.at(t)
        start = st.slice.start
        frame = int(round(start * fps))  # the frame at the slice's start, from the clock alone
        np.testing.assert_array_equal(st.frame, clip.clip.frames[frame])
        assert sorted(n for n, _, _ in st.boxes) == clip.clip.visible_at(start)
        for name, box, sounding in st.boxes:
            ev = clip.clip.by_object(name)
            assert box == pytest.approx(ev.box_at(frame, fps))
            assert sounding == (ev.sound is not None and ev.sound in clip.clip.heard_at(start))


def test_the_highlighted_group_is_the_slices_time_visual_audio(clip, view):
    cfg, fmt = view.model.cfg, view.model.time_format
    assert len(clip.tokens) == len(clip.slices) * (1 + cfg.vision_tokens + cfg.audio_tokens)
    for sl in clip.slices:
        group = [clip.tokens[i] for i in clip.at(sl.start + 0.01).highlight]
        assert [tok.modality for tok in group] == ["time"] + ["vision"] * cfg.vision_tokens + ["audio"] * cfg.audio_tokens
        assert group[0].text == fmt.time(sl.start)  # the token the model reads is the slice's start
        assert fmt.parse_times(group[0].text) == [pytest.approx(sl.start)]


def test_the_map_is_a_distribution_and_its_mass_in_the_box_matches_pixels(clip, view):
    """Mass inside the box via fractional patch cover (the view) vs counting image pixels (here)."""
    checked = 0
    for sl in clip.slices:
        st = clip.at(sl.start)
        assert st.attention.sum() == pytest.approx(1, abs=1e-5) and (st.attention >= 0).all()
        rows = st.plan.sum(1)
        np.testing.assert_allclose(rows, np.full_like(rows, 1 / st.plan.shape[0]), atol=1e-4)
        if sl.sounding_box is None:
            assert st.mass_in_box is None
            continue
        size = clip.clip.frames.shape[1]
        per_pixel = st.attention.repeat(size // st.grid, 0).repeat(size // st.grid, 1) / (size // st.grid) ** 2
        x0, y0, x1, y1 = (round(v * size) for v in sl.sounding_box)
        # boxes are stored to 4 decimals (2/64 → 0.0312), so the two paths agree to ~1e-4
        assert st.mass_in_box == pytest.approx(per_pixel[y0:y1, x0:x1].sum(), abs=5e-4)
        checked += 1
    assert checked


def test_the_cosine_map_by_a_second_path(clip, view):
    """Without an AVACE head the map is softmax(cos / T): recomputed patch by patch in numpy."""
    from chronus_lab.viz.explorer_view import SIMILARITY_TEMPERATURE

    st = clip.at(2.0)
    model = view.model
    with torch.no_grad():
        pv = model.vision_proj.core(clip.features["vision"][st.slice.index:st.slice.index + 1])[0].numpy()
        pa = model.audio_proj.core(clip.features["audio"][st.slice.index:st.slice.index + 1])[0].numpy().mean(0)
    cos = np.array([p @ pa / (np.linalg.norm(p) * np.linalg.norm(pa)) for p in pv]) / SIMILARITY_TEMPERATURE
    want = np.exp(cos - cos.max()) / np.exp(cos - cos.max()).sum()
    np.testing.assert_allclose(st.attention.reshape(-1), want, atol=1e-5)
    assert "no AVACE head" in st.attention_kind


def test_asking_reads_answers_back_and_scores_them(clip, view):
    from chronus_lab.eval.metrics import normalize_answer, temporal_iou

    for kind in ("v2t", "a2t", "xspan"):
        a = clip.ask(kind)
        assert a.question == clip.task(kind).question and a.truth == clip.task(kind).answer
        assert a.value == pytest.approx(temporal_iou(a.predicted, a.target))
        assert a.target == pytest.approx(tuple(clip.task(kind).target["span"]))
    for kind in ("a2v", "v2a"):
        a = clip.ask(kind)
        assert a.value == float(normalize_answer(a.answer) == normalize_answer(a.truth))
    typed = clip.ask("v2t", question="What is on screen at the start?")
    assert typed.kind is None and typed.truth is None and typed.value is None and typed.answer
    with pytest.raises(DataError, match="kind or a question"):
        clip.ask()
    with pytest.raises(ConfigError, match="unknown task kind"):
        clip.ask("when")


def test_a_kind_the_clip_cannot_pose_is_one_clear_error(view):
    from chronus_lab.world.tasks import make_task

    for index in range(40):
        c = view.open(index=index)
        if make_task(c.clip, "xspan", 0, view.model.answer_format) is None:
            with pytest.raises(DataError, match=f"clip {index} cannot pose a xspan question"):
                c.ask("xspan")
            return
    pytest.fail("no clip without an xspan question among 40")


def test_the_audio_player_gets_the_clips_samples(clip):
    with wave.open(io.BytesIO(clip.audio_wav())) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (clip.clip.sample_rate, 1, len(clip.clip.audio))
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32767
    np.testing.assert_allclose(pcm, np.clip(clip.clip.audio, -1, 1), atol=1 / 32767)


def test_the_spectrogram_and_rows_cover_the_clip(clip):
    spec, extent = clip.spectrogram()
    assert extent[1] == pytest.approx(clip.clip.duration) and spec.shape[0] == 257
    rows = clip.rows()
    assert len(rows) == len(clip.clip.objects) + len(clip.clip.sounds)
    assert {r["span"] for r in rows} == {e.span for e in clip.clip.events}


def test_bad_clip_numbers_are_refused(view):
    for bad in (-1, 1.5, "3"):
        with pytest.raises(DataError, match="clip index"):
            view.open(index=bad)


# --- the widget layer, driven from Python ------------------------------------------------------------
def _png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_draw_box_outlines_the_boxes_pixels():
    from chronus_lab.viz.explorer import draw_box

    img = np.zeros((64, 64, 3), np.uint8)
    draw_box(img, [0.25, 0.5, 0.5, 0.75], (255, 0, 0), width=1)
    ys, xs = np.nonzero(img[..., 0])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (16, 31, 32, 47)
    assert img[40, 20].sum() == 0  # inside stays untouched


def test_the_widgets_follow_the_slider_and_answer(view):
    from chronus_lab.viz.explorer import Explorer

    ex = Explorer(view, index=3)
    heads = []
    for t in (1.0, 4.0, 7.0):
        ex.time.value = t
        current = set(re.findall(r"cl-current' data-slice='(\d+)'", ex.tokens.value))
        assert current == {str(ex.clip.slice_at(t).index)}
        img = _png(ex.plots.value)
        red = (img[..., 0] > 200) & (img[..., 1] < 40) & (img[..., 2] < 40)
        heads.append(int(np.median(np.nonzero(red.sum(0) > 40)[0])))  # the playhead's column
        same = (_png(ex.frame.value)[2::4, 2::4] == ex.clip.at(t).frame).all(-1)  # the frame at 4x
        assert same.mean() > 0.9  # all but the box outlines drawn over it
    assert heads[0] < heads[1] < heads[2]
    per_s = (heads[2] - heads[0]) / 6.0
    assert heads[1] - heads[0] == pytest.approx(3 * per_s, abs=2)  # linear in time
    ex.kind.value = "a2t"
    assert ex.question.value == ex.clip.task("a2t").question
    ex.ask()
    assert "cl-answer" in ex.reply.value and "mIoU" in ex.reply.value and not ex.error.value
    ex.index.value = 4
    assert ex.time.max == ex.clip.clip.duration and ex.time.value == 0 and ex.reply.value == ""


def test_a_widget_callback_shows_a_users_error_instead_of_raising(view):
    from chronus_lab.viz.explorer import Explorer

    ex = Explorer(view, index=3)
    ex.question.value = ""
    ex.kind.value = "v2t"
    ex.clip.ask = lambda *a, **k: (_ for _ in ()).throw(DataError("no such thing"))
    ex.ask()
    assert "no such thing" in ex.error.value and "cl-error" in ex.error.value
    assert issubclass(DataError, ChronusError)


def test_the_explorer_benchmark_prints_its_rows(view):
    from chronus_lab.experiments import run

    rows = run("explorer", view=view, n=3, log=lambda *_: None)
    assert [r["action"].split()[0] for r in rows] == ["slider", "open", "ask"]
    assert rows[0]["n"] == 9 and float(rows[0]["median ms"]) > 0


# --- chronus-lab explore -----------------------------------------------------------------------------
def test_explore_refuses_a_bad_checkpoint_in_one_line(tmp_path, capsys):
    from chronus_lab.cli import main

    bad = tmp_path / "x.ckpt"
    bad.write_bytes(b"not a checkpoint")
    for path in (bad, tmp_path / "missing.ckpt"):
        assert main(["explore", "--ckpt", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("chronus-lab explore: error:") and "\n" not in err


def test_explore_opens_the_explorer_notebook_with_the_checkpoint(monkeypatch, capsys):
    import subprocess
    from pathlib import Path

    from chronus_lab.cli import main
    from chronus_lab.train.ship import shipped

    seen = {}
    monkeypatch.setattr(subprocess, "run", lambda cmd, env, check: seen.update(cmd=cmd, env=env))
    assert main(["explore", "--ckpt", str(shipped()), "--no-browser", "--port", "8899"]) == 0
    notebook = Path(seen["cmd"][4])
    assert seen["cmd"][2:4] == ["jupyter", "lab"] and notebook.name == "09_explorer.ipynb" and notebook.is_file()
    assert "--port=8899" in seen["cmd"] and "--no-browser" in seen["cmd"]
    assert seen["env"]["CHRONUS_CKPT"] == str(shipped().resolve())
    nb = notebook.read_text()
    assert "CHRONUS_CKPT" in nb  # the notebook reads what the command passes


def test_the_untrained_model_says_so_and_full_scale_offline_is_one_clear_error(monkeypatch):
    from chronus_lab.model.hub import WeightsNotAvailable
    from chronus_lab.viz.explorer_view import ExplorerView

    view = ExplorerView.untrained("tiny-grounding")
    assert not view.trained and "answers are noise" in view.note and "chronus-lab train" in view.note
    assert view.open(index=0).ask("v2t").answer is not None  # it still answers: the student sees the noise
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotAvailable, match="huggingface-cli download"):
        ExplorerView.untrained("full-sft")
