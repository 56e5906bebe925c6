import numpy as np
import pytest
import torch

from chronus_lab.compare import compare


def test_compare_passes_close_and_fails_far(capsys):
    assert compare("same", torch.ones(3), np.ones(3)) == 0.0
    assert "exact: True" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="max difference"):
        compare("far", [1.0, 2.0], [1.0, 2.1])
    with pytest.raises(AssertionError, match="shapes differ"):
        compare("shape", np.ones(3), np.ones(4))


def test_compare_keeps_float64_precision(capsys):
    a = torch.tensor([1.0], dtype=torch.float64)
    compare("tiny diff", a, a + 1e-12)
    assert "exact: False" in capsys.readouterr().out  # a float32 cast would call these equal
