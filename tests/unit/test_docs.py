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
