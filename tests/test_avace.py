"""AVACE: the released map is constant (no gradient), ours varies and trains; masks and boxes."""
import pytest
import torch
from torch import nn

from chronus_lab.align.avace import (AudioToPatchAttention, avace_loss, box_mask, mass_inside, peak_box,
                                     released_code_map, released_code_total, total_loss)


def test_released_code_map_is_constant_and_gives_no_gradient():
    torch.manual_seed(0)
    audio, patches = torch.randn(2, 5, 8), torch.randn(2, 16, 8)
    q, k = nn.Linear(8, 8), nn.Linear(8, 8)
    A = released_code_map(audio, patches, q, k)
    torch.testing.assert_close(A, torch.full_like(A, 1 / 5))  # 1 / number of keys, everywhere
    mask = box_mask(torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 2), 4)
    avace_loss(A, mask).sum().backward()
    assert all(p.grad is None or p.grad.abs().max() < 1e-7 for p in (*q.parameters(), *k.parameters()))


def test_our_map_varies_and_its_loss_has_a_gradient():
    torch.manual_seed(0)
    att = AudioToPatchAttention(8, 8, d_attn=8, heads=2)
    A = att(torch.randn(2, 5, 8), torch.randn(2, 16, 8))
    torch.testing.assert_close(A.sum(-1), torch.ones(2))
    assert A.std(-1).min() > 1e-3
    mask = box_mask(torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 2), 4)
    avace_loss(A, mask).sum().backward()
    assert att.q.weight.grad.abs().max() > 1e-6


def test_training_with_avace_moves_attention_into_the_box():
    torch.manual_seed(0)
    patches = torch.randn(8, 16, 8)
    audio = torch.randn(8, 3, 8)
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 8)
    mask = box_mask(boxes, 4)
    att = AudioToPatchAttention(8, 8, d_attn=8, heads=2)
    opt = torch.optim.Adam(att.parameters(), lr=0.05)
    before = mass_inside(att(audio, patches), mask).mean()
    for _ in range(100):
        loss = avace_loss(att(audio, patches), mask).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = mass_inside(att(audio, patches), mask).mean()
    assert after > before + 0.3


def test_box_mask_handles_partial_cover():
    m = box_mask(torch.tensor([[0.125, 0.0, 0.5, 0.25]]), 4).view(4, 4)  # x from half of patch 0 to patch 1's end
    assert m[0].tolist() == [0.5, 1.0, 0.0, 0.0] and m[1:].sum() == 0
    full = box_mask(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), 8)
    assert torch.equal(full, torch.ones(1, 64))


def test_peak_box():
    a = torch.zeros(1, 16)
    a[0, 5] = a[0, 6] = 1.0  # row 1, columns 1–2 of a 4×4 grid
    torch.testing.assert_close(peak_box(a, 4), torch.tensor([[0.25, 0.25, 0.75, 0.5]]))


def test_box_mask_equals_the_share_of_pixels_each_patch_has_inside_the_box():
    """Independent path: rasterise the box on a fine pixel grid and count pixels per patch."""
    g = torch.Generator().manual_seed(0)
    res, grid = 64, 8  # 64 px → 8×8 patches of 8 px; box edges on the pixel grid so counts are exact
    for _ in range(20):
        x0, x1 = sorted(torch.randint(0, res + 1, (2,), generator=g).tolist())
        y0, y1 = sorted(torch.randint(0, res + 1, (2,), generator=g).tolist())
        pixels = torch.zeros(res, res)
        pixels[y0:y1, x0:x1] = 1
        per_patch = pixels.view(grid, res // grid, grid, res // grid).sum((1, 3)).flatten() / (res // grid) ** 2
        box = torch.tensor([[x0, y0, x1, y1]], dtype=torch.float64) / res
        torch.testing.assert_close(box_mask(box, grid)[0], per_patch.double())


def test_losses_are_summed_not_overwritten():
    """Behaviour, not the formula: each term must send its weight back as gradient."""
    for fn, w_ot_seen in ((total_loss, 0.01), (released_code_total, 0.0)):
        lm, ot, av = (torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0))
        fn(lm, ot, av, w_ot=0.01, w_avace=0.2).backward()
        assert lm.grad == 1.0 and av.grad == pytest.approx(0.2)
        assert (0.0 if ot.grad is None else float(ot.grad)) == pytest.approx(w_ot_seen)  # released: OT lost


def test_world_experiment_moves_attention_into_the_sounding_box():
    from chronus_lab.experiments.avace_attention import train_attention

    rows, losses, _, _ = train_attention(n_train=20, n_test=10, steps=60, log=lambda r: None)
    untrained, trained = rows
    assert trained["mass inside box"] > untrained["mass inside box"] + 0.05
    assert trained["mass inside box"] > 2 * trained["chance (box share)"]
    assert losses[-1] < losses[0]


def test_sounding_frames_are_the_frames_the_patch_tokens_were_read_from():
    """Independent path: the returned frames, encoded again, give the items' patch tokens in the same order."""
    import numpy as np

    from chronus_lab.experiments.avace_attention import sounding_frames, sounding_slices
    from chronus_lab.model.config import OmniConfig
    from chronus_lab.model.encoders import Encoders

    enc = Encoders(OmniConfig.tiny())
    v, _, _ = sounding_slices(enc, 123, 3)
    frames = sounding_frames(enc.cfg.plan, 123, 3, first=5)
    assert len(frames) == 5 and len(v) > 5
    torch.testing.assert_close(enc.encode_frames(np.stack(frames)).float(), v[:5], atol=1e-5, rtol=1e-4)
