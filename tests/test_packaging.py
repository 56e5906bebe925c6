"""The install files agree, torch stays pinned, and committed notebooks carry no outputs."""
import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req):
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_norm(r) for r in project["dependencies"] + extras["dev"] + extras["browser"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {_norm(r) for r in pip} == wanted
    assert "python=3.11" in env["dependencies"]


def test_constraints_pin_every_dependency_inside_its_range():
    """make/CI install at constraints.txt's tested versions; each must satisfy pyproject's range."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    ranges = {canonicalize_name(r.name): r.specifier
              for r in map(Requirement, project["dependencies"] + extras["dev"])}
    lines = [ln.strip() for ln in (ROOT / "constraints.txt").read_text().splitlines()]
    pins = {}
    for line in filter(lambda ln: ln and not ln.startswith("#"), lines):
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"constraints.txt: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    assert not set(ranges) - set(pins), f"unpinned: {sorted(set(ranges) - set(pins))}"
    outside = {name: str(pins[name]) for name, spec in ranges.items() if pins[name] not in spec}
    assert not outside, f"constraints.txt pins outside pyproject's ranges: {outside}"
    make = (ROOT / "Makefile").read_text()
    assert make.count("-c constraints.txt") == 2, "both installs in the Makefile use the constraints"


def test_torch_is_pinned_to_the_cpu_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "the series has notebooks"
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
                 and (c.get("outputs") or c.get("execution_count") is not None)]
        assert not dirty, f"{nb_path.name}: cells {dirty} carry outputs; strip them (see README)"


def test_every_notebook_names_its_module_and_has_a_parameters_cell():
    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        assert cells[0]["cell_type"] == "markdown" and "tests/" in "".join(cells[0]["source"]), nb_path.name
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert tagged and "SCALE" in "".join(tagged[0]["source"]), nb_path.name


def test_readme_quick_start_is_the_makefile():
    readme = (ROOT / "README.md").read_text()
    make = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "notebooks"):
        assert f"make {target}" in readme and f"\n{target}:" in make
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_notebook_checks_what_it_builds():
    """A Check section exists, and the code right after it asserts (compare / assert_close / assert)."""
    import re

    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        heading = re.compile(r"^(#+ .*\bCheck\b|\*\*Check\b)", re.M)  # "## Check …" or "**Check — …**"
        checks = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and heading.search("".join(c["source"]))]
        assert checks, f"{nb_path.name}: no Check section"
        for i in checks:
            after = next((c for c in cells[i + 1:] if c["cell_type"] == "code"), None)
            text = "".join(after["source"]) if after else ""
            assert re.search(r"\bassert\b|compare\(|assert_close", text), f"{nb_path.name}: the Check at cell {i} asserts nothing"


def test_notebook_stderr_check_flags_what_the_metadata_does_not_expect():
    """tests/notebook_stderr.py fails a notebook whose run prints an unexpected warning (nbmake alone passes it)."""
    import nbformat
    import notebook_stderr as check
    from nbmake.nb_run import NotebookRun

    assert NotebookRun.execute is check._execute_and_check  # the plugin is on for every pytest run

    nb = nbformat.v4.new_notebook()
    warning = ("/x/run.py:12: UserWarning: Checkpoint directory /tmp/a exists and is not empty.\n"
               "  warnings.warn(\n")
    nb.cells = [nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")]),
                nbformat.v4.new_code_cell("fit()", outputs=[nbformat.v4.new_output("stream", name="stderr", text=warning)])]
    assert check.unexpected_stderr(nb) == [(1, warning.splitlines()[0])]  # the quoted source line belongs to it
    nb.metadata["chronus_lab"] = {"expected_stderr": ["Checkpoint directory .* exists and is not empty"]}
    assert check.unexpected_stderr(nb) == []
    nb.cells[1].outputs[0].text += "/y.py:3: FutureWarning: old\n"
    assert check.unexpected_stderr(nb) == [(1, "/y.py:3: FutureWarning: old")]


def test_notebook_check_flags_a_stray_return_value_but_not_a_figure():
    import nbformat
    import notebook_stderr as check

    nb = nbformat.v4.new_notebook()
    shown = nbformat.v4.new_output("execute_result", data={"text/plain": "0.0"}, execution_count=1)
    figure = nbformat.v4.new_output("execute_result", data={"text/plain": "<Figure>", "image/png": "iVBO"},
                                    execution_count=2)
    nb.cells = [nbformat.v4.new_code_cell("compare('x', 1, 1)", outputs=[shown]),
                nbformat.v4.new_code_cell("fig", outputs=[figure])]
    assert check.stray_results(nb) == [(0, "0.0")]


def test_notebook_check_fails_a_notebook_that_leaves_a_temporary_folder(tmp_path):
    """A real kernel run: a notebook that leaves its mkdtemp() folder fails by name; one that removes it passes."""
    import nbformat
    from nbmake.nb_run import NotebookRun

    def run(code):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(code)]
        path = tmp_path / "nb.ipynb"
        nbformat.write(nb, path)
        return NotebookRun(path, default_timeout=120).execute().error

    make = "import tempfile\nd = tempfile.mkdtemp(prefix='student-run-')\n"
    error = run(make)
    assert error is not None and "student-run-" in error.summary
    assert run(make + "import shutil\nshutil.rmtree(d)") is None
