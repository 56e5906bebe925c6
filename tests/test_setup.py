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


def test_a_bad_count_is_one_clear_error(capsys, monkeypatch):
    """``--threads 0`` ended in torch's traceback, ``--seeds 0`` in statistics', ``--limit 0`` evaluated every question;
    now the command line refuses a count below 1 in one line, and ``setup`` (notebooks, ``CHRONUS_THREADS``) raises
    the project's ConfigError for a bad thread count."""
    import pytest

    from chronus_lab.cli import main
    from chronus_lab.errors import ConfigError

    before = torch.get_num_threads()
    for command, option in ((["train", "--config", "tiny-grounding"], "--threads"),
                            (["eval", "--ckpt", "assets/tiny/grounding.ckpt"], "--limit"),  # 0 meant every question
                            (["bench", "rl"], "--seeds"), (["bench", "probe"], "--n-train")):
        for bad in ("0", "-2", "two", "1.5"):
            with pytest.raises(SystemExit) as info:
                main([*command, option, bad])
            err = capsys.readouterr().err
            assert info.value.code == 2 and f"argument {option}: " in err and "Traceback" not in err
    for bad in ("0", "-5", "nan", "inf", "lots"):  # an amount: --gpu-mem nan used to print a plan
        with pytest.raises(SystemExit) as info:
            main(["plan", "--gpu-mem", bad])
        assert info.value.code == 2 and "argument --gpu-mem: " in capsys.readouterr().err
    for bad in (0, -1, 1.5, "x"):
        with pytest.raises(ConfigError, match="threads must be a whole number"):
            setup(threads=bad, quiet=True)
    monkeypatch.setenv("CHRONUS_THREADS", "zero")
    with pytest.raises(ConfigError, match="CHRONUS_THREADS"):
        setup(quiet=True)
    assert torch.get_num_threads() == before  # nothing was changed on the way to the error
