"""The README is a short user's guide, and every link and file the docs name is there."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:combtf|cli|tests|docs|configs|benchmarks|\.ci)/[^`\s]*)`")
DOC_MENTION = re.compile(r"\bdocs/[\w/.-]+\.md")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def test_readme_is_a_short_users_guide() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert text.startswith("# combtf\n\n    make demo") and "    make test" in text.splitlines()[3]
    for section in ("## Install", "## The pipeline", "## Results at a glance", "## Dependencies and licences", "## Development"):
        assert f"\n{section}\n" in text
    for stage in ("combtf extract", "combtf train", "combtf swap", "combtf evaluate", "combtf export", "combtf coverage"):
        assert f"    {stage} " in text, stage  # one example per stage


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        assert linked.exists(), f"{doc.name}: {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{doc.name}: {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_files_the_docs_name_are_in_the_repository(doc: Path) -> None:
    text = doc.read_text()
    for name in REPO_PATH.findall(text):
        assert (REPO / name.rstrip(".,:;")).exists(), f"{doc.name}: `{name}`"
    shared = set(re.findall(r"\.\./shared/[\w/.-]*", text))
    assert shared <= {"../shared/faces", "../shared/faces/"}, shared  # the project's footage beside the checkout only


def test_docs_the_code_and_configs_point_to_exist() -> None:
    sources = [*REPO.glob("combtf/**/*.py"), *REPO.glob("cli/*.py"), *REPO.glob("configs/*.yaml"), *REPO.glob("benchmarks/*.py")]
    for source in sources:
        for name in DOC_MENTION.findall(source.read_text()):
            assert (REPO / name).is_file(), f"{source.relative_to(REPO)}: {name}"
