"""Layers import downwards only (the order is ``chronus_lab.LAYERS``), and every module says where it is built."""
import ast
from pathlib import Path

import chronus_lab

PACKAGE = Path(chronus_lab.__file__).parent
LAYER_OF = {name: i for i, names in enumerate(chronus_lab.LAYERS) for name in names}


def _top(path: Path) -> str:
    """The top-level unit of a module: ``world`` for world/tasks.py, ``cli`` for cli.py."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def _imports(path: Path):
    """(line, top-level unit) of every chronus_lab import in a file, at any depth (lazy ones too)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below the package root
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's folder
                base = list(path.relative_to(PACKAGE).parts[:-1])[: depth - (node.level - 1)] if node.level <= depth + 1 else None
                assert base is not None, f"{path}: relative import above the package"
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # `from .. import x` at the package root
                    parts = [alias.name for alias in node.names][:1]
                yield node.lineno, parts[0]
            elif node.module and node.module.split(".")[0] == "chronus_lab":
                parts = node.module.split(".")[1:] or [node.names[0].name]
                yield node.lineno, parts[0]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "chronus_lab" and len(parts) > 1:
                    yield node.lineno, parts[1]


def _modules():
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py" or p.parent != PACKAGE]


def test_every_unit_has_a_layer():
    units = {_top(p) for p in _modules()}
    assert units <= set(LAYER_OF), f"add {sorted(units - set(LAYER_OF))} to chronus_lab.LAYERS"


def test_modules_import_only_from_their_layer_or_below():
    upward = []
    for path in _modules():
        mine = LAYER_OF[_top(path)]
        for line, unit in _imports(path):
            if unit in LAYER_OF and LAYER_OF[unit] > mine:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {unit} (layer {LAYER_OF[unit]} > {mine})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The rule can fail: a world module importing the model is caught."""
    fake = PACKAGE / "world" / "_fake_upward.py"
    try:
        fake.write_text("from ..model.omni import OmniModel\n")
        found = [(unit, LAYER_OF[unit]) for _, unit in _imports(fake)]
        assert found == [("model", 2)] and LAYER_OF["world"] < 2
    finally:
        fake.unlink()


def test_every_module_names_where_it_is_built_or_used():
    missing = []
    for path in _modules():
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if path.name != "__init__.py" and not any(w in doc for w in ("notebooks/", "Built in", "tests/", "chronus-lab")):
            missing.append(str(path.relative_to(PACKAGE)))
    assert not missing, f"module docstrings should name their notebook or test: {missing}"
