"""The project's own error types, and the one field validator every config uses.

Tested in ``tests/test_errors.py`` (and wherever a config or a file is checked).

A ``ChronusError`` is a problem the *user* can fix — a bad config value, a damaged dataset, weights
that are not on this machine, a checkpoint that does not fit. The command line prints its message
in one line and exits with status 2. Any other exception is a bug in the project and keeps its
full traceback: catching ``ValueError`` wholesale would hide those bugs behind a tidy message.
"""
from __future__ import annotations


class ChronusError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""

    def _render_traceback_(self) -> list[str]:
        """What IPython (a notebook cell) shows instead of the traceback: the one line the CLI prints."""
        return [f"{type(self).__name__}: {self}"]


class ConfigError(ChronusError, ValueError):
    """A configuration value is invalid; the message names the field and what to do."""


class DataError(ChronusError, ValueError):
    """A dataset or input file is malformed; the message names the file and the field."""


class WeightsNotAvailable(ChronusError, OSError):
    """Pretrained weights could not be loaded (offline, gated, or a missing local folder)."""


class CheckpointError(ChronusError, ValueError):
    """A checkpoint is missing or does not fit the model or run it is loaded into."""


class Diverged(ChronusError, FloatingPointError):
    """A run's loss or weights became NaN or inf; it stopped, and what it saved before is kept."""


def check_fields(owner: str, checks, error: type[ChronusError] = ConfigError) -> None:
    """Raise ``error`` naming the first failing field: ``checks`` = [(ok, field, why), …].

    >>> check_fields("Box", [(1 < 2, "size", "must be positive")])
    >>> check_fields("Box", [(False, "size", "must be positive")])
    Traceback (most recent call last):
    ...
    chronus_lab.errors.ConfigError: Box.size is invalid: must be positive.
    """
    for ok, name, why in checks:
        if not ok:
            raise error(f"{owner}.{name} is invalid: {str(why).rstrip('.')}.")  # a nested error's own "." once


SEED_MAX = 2**32 - 1
"""numpy's and Lightning's seeds are unsigned 32-bit: a seed outside 0 … SEED_MAX is refused by the config."""


def is_seed(value) -> bool:
    """A whole number numpy and Lightning take as a seed (0 … SEED_MAX); the one test every config uses.

    >>> [is_seed(v) for v in (0, 2**32 - 1, -1, 2**32, 1.5, True, None)]
    [True, True, False, False, False, False, False]
    """
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value <= SEED_MAX


EXAMPLE_FOLDER = {"data.cache": "data/features"}


def make_folder(path, field: str = "out"):
    """Create a run's folder (and its parents), or one ConfigError naming the field and the reason.

    >>> make_folder("/proc/no-such-run")
    Traceback (most recent call last):
    ...
    chronus_lab.errors.ConfigError: out: cannot create the folder /proc/no-such-run (FileNotFoundError): give a folder you can write, e.g. --set out=runs/<name>
    """
    from pathlib import Path

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{field}: cannot create the folder {path} ({type(err).__name__}): give a folder you can "
                          f"write, e.g. --set {field}={EXAMPLE_FOLDER.get(field, 'runs/<name>')}") from None
    return path
