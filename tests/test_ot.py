"""AVOpT: our batched log-domain Sinkhorn against POT, its gradient, IPOT, and the loss."""
import itertools

import pytest
import torch

from chronus_lab.align.ot import cosine_cost, ipot, ot_loss, pot_reference, sinkhorn_log, uniform


def _problem(seed, B=4, N=12, M=9, D=16, mixed=True):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(B, N, D, generator=g), torch.randn(B, M, D, generator=g)
    a = torch.rand(B, N, generator=g) + 0.1
    b = torch.rand(B, M, generator=g) + 0.1
    if mixed:  # mixed sizes: zero weights on a different number of padded tokens per element
        for i in range(B):
            a[i, N - i:] = 0
            b[i, M - 2 * i // 2:] = 0 if i else b[i, M:]
    return cosine_cost(x, y), a / a.sum(1, keepdim=True), b / b.sum(1, keepdim=True)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("eps", [0.5, 0.05])
def test_batched_sinkhorn_equals_pot_sinkhorn2(seed, eps):
    C, a, b = _problem(seed)
    res = sinkhorn_log(C, a, b, eps, max_iter=5000, tol=1e-7)
    ours = (res.plan * C).sum((1, 2))
    torch.testing.assert_close(ours.double(), pot_reference(C, a, b, eps), atol=1e-4, rtol=0)


def test_plan_has_the_right_marginals_and_padding_gets_nothing():
    C, a, b = _problem(5)
    P = sinkhorn_log(C, a, b, 0.05, max_iter=5000, tol=1e-7).plan
    torch.testing.assert_close(P.sum(2), a, atol=1e-5, rtol=0)
    torch.testing.assert_close(P.sum(1), b, atol=1e-5, rtol=0)
    assert (P[a == 0] == 0).all()


def test_approaches_exact_emd_as_eps_shrinks():
    C, a, b = _problem(1, mixed=False)
    exact = pot_reference(C, a, b)
    gaps = [float(((sinkhorn_log(C.double(), a.double(), b.double(), eps, max_iter=20000, tol=1e-9).plan
                    * C.double()).sum((1, 2)) - exact).abs().max()) for eps in (0.1, 0.03, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 5e-3


def test_stable_in_float32_at_small_eps():
    C, a, b = _problem(2)
    res = sinkhorn_log(C.float(), a.float(), b.float(), eps=1e-3, max_iter=300)
    assert torch.isfinite(res.plan).all()
    assert torch.isfinite(torch.where(a > 0, res.f, 0)).all()
    torch.testing.assert_close(res.plan.sum(1), b, atol=1e-4, rtol=0)  # exact after each g step


def _entropic_value(C, a, b, eps):
    """W_ε(C) = <T, C> + ε Σ T (log T − 1) at the optimum (POT's entropy convention)."""
    P = sinkhorn_log(C, a, b, eps, max_iter=20000, tol=1e-12).plan
    logP = torch.where(P > 0, P.log(), torch.zeros_like(P))
    return ((P * C) + eps * P * (logP - 1)).sum((1, 2))


def test_loss_gradient_is_the_gradient_of_the_entropic_value():
    """ot_loss holds the plan fixed; by the envelope theorem its gradient is exact. Check by
    central finite differences of W_ε on the inputs x (through the cosine cost)."""
    torch.manual_seed(0)
    x, y = torch.randn(1, 5, 4, dtype=torch.float64, requires_grad=True), torch.randn(1, 4, 4, dtype=torch.float64)
    eps = 0.1
    (grad,) = torch.autograd.grad(ot_loss(x, y, eps=eps, max_iter=20000).sum(), x)
    a, b = torch.full((1, 5), 0.2, dtype=torch.float64), torch.full((1, 4), 0.25, dtype=torch.float64)
    h = 1e-5
    fd = torch.zeros_like(x)
    with torch.no_grad():
        for idx in itertools.product(*(range(n) for n in x.shape)):
            xp, xm = x.clone(), x.clone()
            xp[idx] += h
            xm[idx] -= h
            fd[idx] = (_entropic_value(cosine_cost(xp, y), a, b, eps) - _entropic_value(cosine_cost(xm, y), a, b, eps)).sum() / (2 * h)
    torch.testing.assert_close(grad, fd, atol=1e-5, rtol=1e-4)


def test_identical_inputs_cost_almost_nothing():
    x = torch.randn(2, 6, 8)
    assert ot_loss(x, x.clone(), eps=0.01, max_iter=2000).max() < 0.02
    one = torch.randn(1, 1, 8)
    torch.testing.assert_close(ot_loss(one, -one), torch.tensor([2.0]))  # opposite tokens: cost 2


def test_ipot_approaches_the_exact_plan():
    C, a, b = _problem(3, mixed=False)
    exact = pot_reference(C, a, b)
    cost = lambda iters: ((ipot(C.double(), a.double(), b.double(), iters=iters) * C.double()).sum((1, 2)))  # noqa: E731
    gap30, gap2000 = (cost(30) - exact).abs().max(), (cost(2000) - exact).abs().max()
    assert gap2000 < gap30 and gap2000 < 1e-3
    P = ipot(C, a, b, iters=200)
    torch.testing.assert_close(P.sum(1), b, atol=1e-5, rtol=0)


def test_unknown_solver():
    with pytest.raises(ValueError, match="unknown OT solver"):
        ot_loss(torch.randn(1, 2, 3), torch.randn(1, 2, 3), solver="magic")


def test_uniform_weights():
    w = uniform(torch.tensor([[True, True, False, False]]))
    assert w.tolist() == [[0.5, 0.5, 0.0, 0.0]]


def test_world_alignment_experiment_runs():
    from chronus_lab.experiments.ot_align import run

    rows = run(weights=(0.0, 0.1), steps=2, n_train=4, n_test=12, log=lambda r: None)
    assert [r["OT weight"] for r in rows] == [0.0, 0.1]
    assert all(0 <= r["retrieval acc"] <= 1 and 0 < r["chance"] < 1 for r in rows)
