"""The documentation: every relative link resolves, and the README stays short.

A link ``[text](path)`` or ``[text](path#anchor)`` in README.md, SECURITY.md, CHANGELOG.md or
docs/*.md must name a file in the repository (not outside it: a user's clone has nothing
beside it), and an anchor must name a heading of that file, spelled as GitHub spells heading
anchors. Links to web pages (``https://...``) are not followed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [REPO / "README.md", REPO / "SECURITY.md", REPO / "CHANGELOG.md"]
    + list((REPO / "docs").glob("*.md"))
)
#: The README is an introduction and a tour; the guides live in docs/ [bytes].
README_MAX_BYTES = 12_000

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _links_in(text: str) -> list[str]:
    return _LINK.findall(_prose(text))


def _links(path: Path) -> list[str]:
    return _links_in(path.read_text(encoding="utf-8"))


def _anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for a Markdown file (lower case, punctuation dropped,
    spaces to hyphens, repeats numbered -1, -2 ...)."""
    seen: dict[str, int] = {}
    out = set()
    for title in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", title.replace("`", "").strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)  # no https:, mailto: ...


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    assert doc.is_file(), f"{doc.relative_to(REPO)} is missing"
    name = doc.relative_to(REPO)
    for link in _links(doc):
        if not _relative(link):
            continue
        where, _, anchor = link.partition("#")
        target = (doc.parent / where).resolve() if where else doc
        assert target.is_relative_to(REPO), (
            f"{name}: link ({link}) points outside the repository ({target})"
        )
        assert target.is_file(), f"{name}: link ({link}) names no file ({target})"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), (
                f"{name}: link ({link}) names no heading '#{anchor}' in {target.relative_to(REPO)}"
            )


def test_the_docs_have_links_to_check() -> None:
    # the link pattern itself: a README without a single relative link means it broke
    links = [link for link in _links(REPO / "README.md") if _relative(link)]
    assert "docs/planners-guide.md" in links, f"README.md: links found: {links}"
    assert _links_in("[a](b.md) `[c](d.md)` [e [f]](g.md#h)") == ["b.md", "g.md#h"]


def test_readme_is_short() -> None:
    size = (REPO / "README.md").stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md: {size:,} bytes, more than {README_MAX_BYTES:,}: move the detail to docs/"
    )


def test_no_markdown_file_sends_readers_to_notes_outside_the_repository() -> None:
    # the project's working notes (DESIGN.md, DOMAIN.md ... in ../shared) are not in a clone
    skip = {"build", "dist", "node_modules"}
    for md in sorted(REPO.rglob("*.md")):
        parts = md.relative_to(REPO).parts[:-1]
        if any(p.startswith(".") or p in skip or p.endswith(".egg-info") for p in parts):
            continue
        text = md.read_text(encoding="utf-8")
        for note in ("DESIGN.md", "DOMAIN.md", "STYLE.md", "FINDINGS.md", "../shared/DESIGN"):
            assert note not in text, f"{md.relative_to(REPO)}: cites {note}, not in the repository"
