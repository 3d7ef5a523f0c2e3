"""The packages of `pipeline/` import in one direction only (docs/architecture.md, "The `pipeline/` package").

Every module is parsed with `ast`; every import counts, including imports inside functions and relative ones.
A module's layer is the subpackage it lives in (`pipeline/experiment/grid.py` -> `experiment`); `cli.py`,
`__main__.py` and `pipeline/__init__.py` are layers of their own. A new subpackage fails here until it is given a
place in `MAY_IMPORT`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pipeline"

_BELOW_OPS = {"core", "data", "generators", "quality", "experiment", "reporting", "config"}

#: layer -> the layers its modules may import ("root" is `pipeline/__init__.py`: the version, nothing else)
MAY_IMPORT: dict[str, set[str]] = {
    "root": set(),
    "core": {"root", "core"},
    "data": {"root", "core", "data"},
    "generators": {"root", "core", "data", "generators"},
    "quality": {"root", "core", "data", "generators", "quality"},
    "experiment": {"root", "core", "data", "generators", "quality", "experiment"},
    "reporting": {"root", "core", "data", "generators", "quality", "experiment", "reporting"},
    "config": {"root", "core", "data", "generators", "config"},
    "ops": {"root", *_BELOW_OPS, "ops"},
    "stages": {"root", *_BELOW_OPS, "ops", "stages"},  # but never another stage: see `violations`
    "cli": {"root", *_BELOW_OPS, "ops", "stages", "cli"},
    "__main__": {"cli", "core"},  # core: the warm-start client (core/warmstart.py)
    # compatibility only: the old module path of ops.tracking, for models registered before the layers
    "tracking": {"ops", "tracking"},
}


def layer_of(module: str) -> str:
    """`pipeline.experiment.grid` -> `experiment`; `pipeline` -> `root`; `pipeline.cli` -> `cli`."""
    parts = module.split(".")
    return "root" if len(parts) == 1 else parts[1]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every `pipeline` module a module imports (for `from a import b`: `a.b` when b may be a
    module, and `a` itself, which is executed either way)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            out.append((node.lineno, source))
            out += [(node.lineno, f"{source}.{a.name}") for a in node.names if a.name != "*"]
    return [(line, name) for line, name in out if name == "pipeline" or name.startswith("pipeline.")]


def _is_module(name: str, package: Path) -> bool:
    base = package.parent / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def violations(path: Path, package: Path = PACKAGE, source: str | None = None) -> list[str]:
    """The imports of the module at `path` that break the direction, one readable line each."""
    module = module_name(path, package)
    layer = layer_of(module)
    text = path.read_text(encoding="utf-8") if source is None else source
    where = path.relative_to(package.parent)
    if layer not in MAY_IMPORT:
        return [
            f"{where}: package `pipeline.{layer}` has no place in the layers: add it to MAY_IMPORT in "
            f"tests/unit/test_architecture.py (and to docs/architecture.md) with what it may import"
        ]
    out: dict[int, str] = {}  # one line per import statement
    for line, name in imports_of(ast.parse(text), module, path.name == "__init__.py"):
        if line in out:
            continue
        if name != "pipeline" and layer_of(name) not in MAY_IMPORT and not _is_module(name, package):
            continue  # `from pipeline import __version__` and the like: a name, not a module
        target = layer_of(name)
        if target not in MAY_IMPORT[layer]:
            allowed = ", ".join(sorted(MAY_IMPORT[layer] - {"root", layer})) or "nothing else in pipeline"
            out[line] = (
                f"{where}:{line}: `{layer}` may not import `{target}` (imports {name}); {layer} may import: {allowed}"
            )
        elif layer == "stages" == target and name not in ("pipeline.stages", module):
            out[line] = (
                f"{where}:{line}: a stage imports another stage ({name}); stages never import each other: "
                f"move what they share into a layer below"
            )
    return list(out.values())


def all_violations(package: Path = PACKAGE) -> list[str]:
    return [v for path in sorted(package.rglob("*.py")) for v in violations(path, package)]


def test_every_module_imports_only_the_layers_below_it():
    found = all_violations()
    assert found == [], "imports against the package direction:\n" + "\n".join(found)


def test_every_subpackage_has_a_place_and_says_what_it_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        layer = init.parent.name
        assert layer in MAY_IMPORT, f"pipeline/{layer}/ has no place in MAY_IMPORT"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if layer != "tracking":
            assert "May import" in doc, f"pipeline/{layer}/__init__.py: its docstring must say what it may import"


def test_the_layers_of_the_brief_hold():
    """The two rules the redesign was asked for, stated apart from the table."""
    assert "ops" not in MAY_IMPORT["experiment"]
    assert [layer for layer, allowed in MAY_IMPORT.items() if "stages" in allowed and layer != "stages"] == ["cli"]
    assert MAY_IMPORT["core"] == {"root", "core"}


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pipeline"
    for rel, text in {"__init__.py": "", **files}.items():
        f = package / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        for parent in f.relative_to(package).parents:
            (package / parent / "__init__.py").touch()
        f.write_text(text)
    return package


@pytest.mark.parametrize(
    ("files", "bad"),
    [
        ({"experiment/grid.py": "from pipeline.ops.tracking import log_run\n"}, "`experiment` may not import `ops`"),
        (
            {"experiment/grid.py": "def f():\n    from pipeline.ops import tracking\n"},
            "`experiment` may not import `ops`",
        ),
        ({"experiment/grid.py": "from ..ops import tracking\n"}, "`experiment` may not import `ops`"),
        ({"experiment/grid.py": "import pipeline.ops.tracking as t\n"}, "`experiment` may not import `ops`"),
        ({"core/paths.py": "from pipeline.data.split import split\n"}, "`core` may not import `data`"),
        ({"ops/retrain.py": "from pipeline import stages\n"}, "`ops` may not import `stages`"),
        ({"ops/retrain.py": "from pipeline.stages import train\n"}, "`ops` may not import `stages`"),
        ({"stages/train.py": "from pipeline.stages.prepare import run\n"}, "a stage imports another stage"),
        ({"data/split.py": "from pipeline.generators.base import Generator\n"}, "`data` may not import `generators`"),
        ({"newlayer/x.py": "x = 1\n"}, "has no place in the layers"),
    ],
)
def test_the_checker_finds_a_bad_import(tmp_path: Path, files: dict[str, str], bad: str):
    found = all_violations(_fake_package(tmp_path, files))
    assert found and all(bad in f for f in found), found


def test_the_checker_allows_the_direction(tmp_path: Path):
    package = _fake_package(
        tmp_path,
        {
            "experiment/grid.py": "from pipeline.core.errors import ConfigError\nfrom pipeline import __version__\n"
            "from . import blend\nfrom pipeline.quality.reports import gate_status\n",
            "experiment/blend.py": "",
            "core/errors.py": "import pipeline\n",
            "quality/reports.py": "",
            "ops/retrain.py": "from pipeline.experiment import grid\nfrom pipeline.config.params import load\n",
            "config/params.py": "from pipeline.generators.registry import make_generator\n",
            "generators/registry.py": "",
            "stages/train.py": "from pipeline.ops import retrain\n",
            "cli.py": "from pipeline.stages import train\n",
        },
    )
    assert all_violations(package) == []
