import torch

from chronus_lab.setup import pick_device, setup, versions


def test_setup_seeds_and_threads(capsys):
    dev = setup(seed=3, threads=1)
    a = torch.rand(3)
    setup(seed=3, threads=1, quiet=True)
    assert torch.equal(a, torch.rand(3))
    assert torch.get_num_threads() == 1
    assert dev == pick_device("auto")
    assert "torch" in capsys.readouterr().out


def test_versions_lists_the_stack():
    v = versions()
    assert v["torch"].startswith("2.13") and v["POT"] != "not installed"


def test_explicit_device_is_kept():
    assert pick_device("cpu") == "cpu"
