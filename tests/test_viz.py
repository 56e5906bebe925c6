"""Smoke tests for the plots: they draw what the clip holds."""
from chronus_lab.viz import plots


def test_plots_draw_the_clip(clips):
    clip, _ = clips[0]
    fig = plots.timeline(clip, predictions={clip.objects[0].object: (0.0, 1.0)})
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == len(clip.objects) + len(clip.sounds)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["model's answer"]  # the hollow bar is named
    assert plots.timeline(clip).axes[0].get_legend() is None  # no answers, no legend
    assert len(plots.frame_strip(clip, frames=[0, 4, 8]).axes) == 3
    assert plots.spectrogram(clip).axes[0].get_images()


def test_token_strip_marks_kept_labels():
    fig = plots.token_strip([0, 1, 2, 3, 0], labels=[-100, -100, -100, -100, 7], slice_idx=[-1, 0, 0, 0, -1])
    red = [p for p in fig.axes[0].patches if p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)]
    assert len(red) == 1
