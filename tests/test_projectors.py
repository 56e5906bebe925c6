"""Projectors: shapes within the budget, and the ChronusOmni projectors rebuilt by hand."""
import pytest
import torch
import torch.nn.functional as F

from chronus_lab.errors import ConfigError
from chronus_lab.model.projectors import PROJECTORS, build_projector


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
    """Independent path: each 2×2 block of the 4×4 patch grid pooled by explicit sums over its four
    patches (row-major patch index y·4 + x), then the two linear layers as plain matrix products."""
    torch.manual_seed(0)
    p = build_projector("pool_mlp", 8, 6, n_out=4, grid=True)
    x = torch.randn(1, 1, 16, 8)  # a 4×4 grid
    h = x[0, 0] @ p.fc1.weight.T + p.fc1.bias  # (16, 6)
    W, bias = p.pool.weight, p.pool.bias  # (out 6, in 6, 2, 2)
    pooled = []
    for by in range(2):
        for bx in range(2):
            acc = bias.clone()
            for dy in range(2):
                for dx in range(2):
                    acc = acc + W[:, :, dy, dx] @ h[(2 * by + dy) * 4 + (2 * bx + dx)]
            pooled.append(acc)
    ref = F.gelu(torch.stack(pooled)) @ p.fc2.weight.T + p.fc2.bias  # (4, 6)
    torch.testing.assert_close(p(x)[0, 0], ref)


def test_stack_mlp_by_hand():
    """Independent path: frames 4t…4t+3 concatenated one by one, then Linear → ReLU → Linear as matmuls."""
    torch.manual_seed(0)
    p = build_projector("stack_mlp", 3, 5, n_out=2, grid=False)  # stacks 4 frames
    x = torch.randn(1, 1, 8, 3)
    lin1, lin2 = p.net[0], p.net[2]
    rows = []
    for t in range(2):
        stacked = torch.cat([x[0, 0, 4 * t + j] for j in range(4)])  # (12,)
        rows.append(torch.relu(lin1.weight @ stacked + lin1.bias) @ lin2.weight.T + lin2.bias)
    torch.testing.assert_close(p(x)[0, 0], torch.stack(rows))


def test_unknown_projector():
    with pytest.raises(ConfigError, match="unknown projector"):
        build_projector("magic", 1, 1, 1, False)
    assert set(PROJECTORS) == {"linear", "mlp", "pool_mlp", "stack_mlp", "conv"}
