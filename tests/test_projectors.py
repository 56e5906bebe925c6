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


# --- slice context: each slice's tokens also read their neighbours ---------------------------------
def _with_random_context(reach: int):
    torch.manual_seed(0)
    p = build_projector("mlp", 8, 6, n_out=2, grid=False, context=reach)
    torch.nn.init.normal_(p.context.conv.weight)
    torch.nn.init.normal_(p.context.conv.bias)
    return p


@pytest.mark.parametrize("reach", [1, 2])
def test_slice_context_by_hand(reach):
    """Independent path: slice s of a clip of n gets its own token plus, for every offset j in −reach…reach
    whose slice s + j lies inside the clip, the kernel tap ``W[:, :, j + reach]`` applied to that slice's
    token, plus the bias; slices past the clip's end (batch padding) are zero."""
    p = _with_random_context(reach)
    x = torch.randn(2, 6, 4, 8)
    n_slices = [6, 4]
    own = p.budget(p.core(x.reshape(12, 4, 8))).view(2, 6, 2, 6)  # the per-slice tokens, no context
    W, bias = p.context.conv.weight, p.context.conv.bias  # (6, 6, 2·reach + 1)
    out = p(x, n_slices)
    for b, n in enumerate(n_slices):
        for s in range(6):
            for t in range(2):
                if s >= n:
                    assert out[b, s, t].abs().max() == 0
                    continue
                acc = own[b, s, t] + bias
                for j in range(-reach, reach + 1):
                    if 0 <= s + j < n:
                        acc = acc + W[:, :, j + reach] @ own[b, s + j, t]
                torch.testing.assert_close(out[b, s, t], acc)


def test_slice_context_starts_as_the_plain_projector_and_learns():
    """Zero weights at start: the same tokens as the projector without context; the gradient still reaches
    the kernel (it is not stuck at zero)."""
    torch.manual_seed(0)
    plain = build_projector("mlp", 8, 6, n_out=1, grid=True)
    with_context = build_projector("mlp", 8, 6, n_out=1, grid=True, context=1)
    with_context.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 5, 4, 8)
    torch.testing.assert_close(with_context(x, [5, 5]), plain(x))
    with_context(x, [5, 5]).pow(2).sum().backward()
    assert with_context.context.conv.weight.grad.abs().sum() > 0


def test_a_clips_tokens_do_not_depend_on_its_batch():
    """A 3-slice clip alone, or padded to 6 beside a longer clip, gets the same tokens: the padding's
    tokens (the projector of zeros is not zero) never leak into its last slice."""
    p = _with_random_context(1)
    short, long = torch.randn(1, 3, 4, 8), torch.randn(1, 6, 4, 8)
    alone = p(short, [3])
    padded = torch.cat([torch.cat([short, short.new_zeros(1, 3, 4, 8)], 1), long])
    torch.testing.assert_close(p(padded, [3, 6])[:1, :3], alone)
