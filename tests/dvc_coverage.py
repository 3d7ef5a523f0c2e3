"""What each DVC stage reads versus what dvc.yaml declares for it.

A stage whose code or params are not all declared can be served stale by `dvc repro`. Two checks:

* code: the modules a stage's entry module imports, transitively inside `pipeline/` (any import,
  including ones inside functions, plus the package `__init__` files on the way), must each be
  covered by a `deps` entry (the file itself or a folder above it). So must what `pipeline/cli.py`
  runs before it dispatches to the stage (the params loader with every default, the paths): a changed
  default changes what every stage computes. `cli.py` itself, which only dispatches, and the other
  commands it dispatches to are not counted.
* params: the keys a stage reads during a real run (recorded by `pipeline.config.recording.recording` when
  `PIPELINE_RECORD_PARAMS` is set) must each be covered by a `params` entry.
"""

from __future__ import annotations

import ast
import functools
import itertools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


#: stages whose module is not pipeline/stages/<stage name>.py
MODULES: dict[str, str] = {}


def _lookup(params: dict, ref: Any) -> list:
    """A matrix axis: a literal list, or `${a.b}` naming a params list or mapping (its keys)."""
    if not isinstance(ref, str):
        return list(ref)
    value: Any = params
    for part in ref.strip("${} ").split("."):
        value = value[part]
    return list(value)


def stages(dvc_yaml: dict, params: dict) -> dict[str, dict[str, list[str]]]:
    """{stage id: {"deps": [...], "params": [...], "module": "pipeline/stages/x.py"}} with `foreach` and `matrix`
    expanded (ids as DVC names them: `fit@ctgan-0`)."""
    out = {}
    for name, spec in dvc_yaml["stages"].items():
        module = MODULES.get(name, f"pipeline/stages/{name}.py")
        if "foreach" in spec:
            items = params[spec["foreach"].strip("${} ")]
            for key in items:
                body = yaml.safe_dump(spec["do"]).replace("${key}", str(key))
                out[f"{name}@{key}"] = {**yaml.safe_load(body), "module": module}
        elif "matrix" in spec:
            axes = {k: _lookup(params, v) for k, v in spec["matrix"].items()}
            body = yaml.safe_dump({k: v for k, v in spec.items() if k != "matrix"})
            for combo in itertools.product(*axes.values()):
                text = body
                for axis, value in zip(axes, combo):
                    text = text.replace(f"${{item.{axis}}}", str(value))
                out[f"{name}@" + "-".join(str(v) for v in combo)] = {**yaml.safe_load(text), "module": module}
        else:
            out[name] = {**spec, "module": module}
    for s in out.values():
        s["deps"] = [str(d) for d in s.get("deps", [])]
        s["params"] = [p if isinstance(p, str) else next(iter(p)) for p in s.get("params", [])]
    return out


def _module_file(root: Path, dotted: str) -> Path | None:
    base = root / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@functools.cache
def _imported_names(path: Path, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Every module name a file imports (parsed once per version of the file: the stat is part of the key)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return tuple(names)


def imported_modules(root: Path, entry: str) -> set[str]:
    """Files under pipeline/ that `entry` imports, transitively (relative paths)."""
    seen: set[Path] = set()
    todo = [root / entry]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        st = f.stat()
        for name in _imported_names(f, st.st_mtime_ns, st.st_size):
            if name != "pipeline" and not name.startswith("pipeline."):
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # the packages on the way are executed too
                target = _module_file(root, ".".join(parts[:i]))
                if target is not None and target.name != "cli.py":
                    todo.append(target)
    return {str(p.relative_to(root)) for p in seen}


#: what cli.py dispatches to (a stage's module, retraining): counted per stage, not for every stage
_DISPATCHED = ("pipeline.stages", "pipeline.ops.retrain")


def cli_modules(root: Path) -> set[str]:
    """Files under pipeline/ that every stage runs through `pipeline/cli.py` before its own module (relative paths)."""
    tree = ast.parse((root / "pipeline" / "cli.py").read_text())
    names = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    names |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    out: set[str] = set()
    for name in sorted(names):
        if name.startswith("pipeline.") and not name.startswith(_DISPATCHED):
            parts = name.split(".")
            for i in range(2, len(parts) + 1):  # the packages on the way are executed too
                target = _module_file(root, ".".join(parts[:i]))
                if target is not None:
                    out |= imported_modules(root, str(target.relative_to(root)))
    return out


def stage_modules(root: Path, stage: dict) -> set[str]:
    """What a stage's process imports from pipeline/: cli's loader chain and the stage's own module, transitively."""
    return cli_modules(root) | imported_modules(root, stage["module"])


def uncovered_code(root: Path, stage: dict) -> list[str]:
    deps = [d.rstrip("/") for d in stage["deps"]]
    return sorted(m for m in stage_modules(root, stage) if not any(m == d or m.startswith(d + "/") for d in deps))


def unused_code_deps(root: Path, stage: dict) -> list[str]:
    """Declared `pipeline/` deps the stage never imports: each makes DVC rerun the stage for nothing."""
    mods = stage_modules(root, stage)
    return sorted(
        d
        for d in stage["deps"]
        if d.startswith("pipeline") and not any(m == d.rstrip("/") or m.startswith(d.rstrip("/") + "/") for m in mods)
    )


def uncovered_params(stage: dict, reads: list[str]) -> list[str]:
    declared = stage["params"]
    bad = []
    for r in reads:
        if r.endswith(".*") or r == "*":
            key = r[:-2] if r.endswith(".*") else ""
            ok = any(key == d or key.startswith(d + ".") for d in declared)
        else:
            ok = any(r == d or r.startswith(d + ".") or d.startswith(r + ".") for d in declared)
        if not ok:
            bad.append(r)
    return sorted(bad)


def load(root: Path = ROOT) -> dict[str, dict]:
    return stages(yaml.safe_load((root / "dvc.yaml").read_text()), yaml.safe_load((root / "params.yaml").read_text()))
