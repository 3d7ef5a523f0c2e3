"""The documentation stays a house a newcomer can live in: a short README, links that lead somewhere, and an
architecture page that names every module of the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

#: a Markdown link or image: [text](target) / ![alt](target), the target up to a space or the closing bracket
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))  # code blocks hold examples, not links
    targets = [m.group(1) for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]


def test_there_are_docs_pages():
    assert DOCS, "docs/*.md is missing"


def test_readme_is_at_most_200_lines():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= 200, f"README.md has {n} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(page: Path):
    missing = []
    for target in _relative_links(page):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (page.parent / path).resolve().exists():
            missing.append(target)
    assert missing == [], f"{page.relative_to(ROOT)}: broken relative links {missing}"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    heads = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_anchor_of_a_markdown_link_is_a_heading(page: Path):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    targets = [m.group(1) for m in LINK.finditer(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", m.group(1), re.I)]
    broken = []
    for target in targets:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if anchor and dest.suffix == ".md" and dest.exists() and anchor not in _anchors(dest):
            broken.append(target)
    assert broken == [], f"{page.relative_to(ROOT)}: links to headings that do not exist {broken}"


def test_the_link_finder_sees_links_and_images(tmp_path: Path):
    page = tmp_path / "p.md"
    page.write_text("[a](docs/x.md#y) ![b](../img.png) [c](https://e.org) [d](#top)\n```\n[e](in/code.md)\n```\n")
    assert _relative_links(page) == ["docs/x.md#y", "../img.png"]


def test_architecture_names_every_module_of_the_package():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(
        p.relative_to(ROOT / "pipeline").as_posix()
        for p in (ROOT / "pipeline").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    assert modules, "no modules found under pipeline/"
    named = [m for m in modules if f"`{m}`" in text or f"`pipeline/{m}`" in text]
    assert sorted(set(modules) - set(named)) == [], "modules missing from docs/architecture.md"


# -- settings named in the docs: real keys, and the defaults they state are the spec's ---------------------------

#: a backticked params key, optionally with a value: `detector.engine` or `detector.engine: dask`
KEY = re.compile(r"`([a-z_]+(?:\.[a-z_0-9]+)+)(?::\s*([^`]+))?`")
#: a default claimed next to a key: `serve.missing` (default `review`), `data.non_finite: missing`, the default
DEFAULT_AFTER_VALUE = re.compile(r"`([a-z_][a-z0-9_.]*): ([^`]+)`[^`.;]{0,25}\bdefault\b")
DEFAULT_IN_BRACKETS = re.compile(r"`([a-z_][a-z0-9_.]*)`[ ,]*\((?:the )?default:? `?([^`)]+)`?\)")
#: dotted names in the docs that are not params keys: files and the retrain's MLflow tags
NOT_PARAMS = {"retrain.decision", "retrain.failed_checks"}
FILE_SUFFIXES = {"csv", "json", "md", "png", "parquet", "yaml", "db", "txt"}


def _spec_keys() -> dict[str, object]:
    from pipeline.config.params import SPEC

    def flat(d: dict, prefix: str = "") -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in d.items():
            out[prefix + k] = v
            if isinstance(v, dict) and v:
                out.update(flat(v, prefix + k + "."))
        return out

    return flat(SPEC.defaults())


def _resolve(key: str, keys: dict[str, object]) -> str | None:
    """The spec key a docs mention means: the dotted path itself, or the one key ending with it (`non_finite`)."""
    if key in keys:
        return key
    ends = [k for k in keys if k.endswith("." + key)]
    return ends[0] if len(ends) == 1 else None


def settings_problems(text: str, keys: dict[str, object]) -> list[str]:
    import yaml

    sections = {k for k in keys if "." not in k}
    problems = []
    for m in KEY.finditer(text):
        key = m.group(1)
        if key.split(".")[0] in sections and key not in NOT_PARAMS and key.rsplit(".", 1)[1] not in FILE_SUFFIXES:
            if key not in keys:
                problems.append(f"`{key}` is not a params key")
    for pattern in (DEFAULT_AFTER_VALUE, DEFAULT_IN_BRACKETS):
        for m in pattern.finditer(text):
            key = _resolve(m.group(1), keys)
            if key is None:
                problems.append(f"`{m.group(1)}` is said to have a default but is not a params key")
                continue
            said = yaml.safe_load(m.group(2).strip())
            if said != keys[key]:
                problems.append(f"`{m.group(1)}`: the docs say the default is {said!r}; the spec says {keys[key]!r}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_settings_named_in_the_docs_exist_and_their_stated_defaults_are_the_specs(page: Path):
    assert settings_problems(page.read_text(encoding="utf-8"), _spec_keys()) == []


def test_the_settings_check_finds_a_stale_default_and_a_renamed_key():
    keys = _spec_keys()
    assert keys["serve.missing"] == "review"  # the docs' claims below are wrong on purpose
    text = (
        "`serve.missing` (default `reject`); `data.non_finite: reject`, the default; `detector.engines: dask`;\n"
        "written to `reports/scarcity.csv`, tagged `retrain.decision`"
    )
    assert settings_problems(text, keys) == [
        "`detector.engines` is not a params key",
        "`data.non_finite`: the docs say the default is 'reject'; the spec says 'missing'",
        "`serve.missing`: the docs say the default is 'reject'; the spec says 'review'",
    ]
    claims = sum(
        len(p.findall(page.read_text(encoding="utf-8")))
        for page in PAGES
        for p in (DEFAULT_AFTER_VALUE, DEFAULT_IN_BRACKETS)
    )
    assert claims >= 3  # the docs state defaults the check reads (detector.engine, data.non_finite, serve.missing)
