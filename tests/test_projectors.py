"""Projectors: shapes within the budget, and the ChronusOmni projectors rebuilt by hand."""
import pytest
import torch
import torch.nn.functional as F

from chronus_lab.projectors import PROJECTORS, build_projector


@pytest.mark.parametrize("kind", ["linear", "mlp", "pool_mlp", "conv"])
def test_vision_projectors_meet_the_budget(kind):
    p = build_projector(kind, 64, 96, n_out=4, grid=True)
    y = p(torch.randn(2, 5, 64, 64))  # (B, S, 8×8 patches, D)
    assert y.shape == (2, 5, 4, 96)
    y.sum().backward()
    assert all(q.grad is not None for q in p.parameters())


@pytest.mark.parametrize("kind", ["linear", "mlp", "stack_mlp", "conv"])
def test_audio_projectors_meet_the_budget(kind):
    p = build_projector(kind, 64, 96, n_out=2, grid=False)
    assert p(torch.randn(2, 5, 16, 64)).shape == (2, 5, 2, 96)


def test_pool_mlp_by_hand():
    torch.manual_seed(0)
    p = build_projector("pool_mlp", 8, 6, n_out=4, grid=True)
    x = torch.randn(1, 1, 16, 8)  # a 4×4 grid
    h = p.fc1(x[0, 0])  # (16, 6)
    g = h.T.reshape(1, 6, 4, 4)
    pooled = F.conv2d(g, p.pool.weight, p.pool.bias, stride=2)  # (1, 6, 2, 2)
    ref = p.fc2(F.gelu(pooled.flatten(2)[0].T))  # (4, 6)
    torch.testing.assert_close(p(x)[0, 0], ref)


def test_stack_mlp_by_hand():
    torch.manual_seed(0)
    p = build_projector("stack_mlp", 3, 5, n_out=2, grid=False)  # stacks 4 frames
    x = torch.randn(1, 1, 8, 3)
    ref = p.net(x[0, 0].reshape(2, 12))
    torch.testing.assert_close(p(x)[0, 0], ref)


def test_unknown_projector():
    with pytest.raises(ValueError, match="unknown projector"):
        build_projector("magic", 1, 1, 1, False)
    assert set(PROJECTORS) == {"linear", "mlp", "pool_mlp", "stack_mlp", "conv"}
