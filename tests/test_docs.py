"""The documentation: a short README pointing into docs/, links that resolve, no reference to
anything outside the repository, figures stated with the date they were measured, and the
shipped-stacks table true to the stacks and their locks."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(ROOT / p for p in listed if (ROOT / p).is_file())


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_the_docs_pages_exist():
    names = {p.name for p in DOCS.glob("*.md")}
    assert names >= {
        "index.md",
        "stack-config.md",
        "adding-a-stack.md",
        "offline-plan-and-review.md",
        "preview-and-up.md",
        "composing-components.md",
        "optimizer.md",
        "architecture.md",
        "what-a-stack-deploys.md",
        "policy-pack.md",
    }


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_refers_to_files_outside_the_repository(path):
    text = path.read_text()
    for pattern in (r"\.\./shared", r"/work/shared", r"\bdesign\.md\b", r"\bdesign (section )?\d"):
        assert not re.search(pattern, text, re.IGNORECASE), (path, pattern)


def test_the_readme_is_a_five_minute_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 80
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == ["Two commands", "What you get", "Where to go next"]
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"(docs/{page.name})" in text, page.name


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as dashes."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        assert dest.exists(), (page.name, target)
        assert ROOT in dest.parents or dest == ROOT, (page.name, target)
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), (page.name, target)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_measured_figures_carry_their_date(page):
    """A timing or memory figure stated as measured says when (and the bench that printed it)."""
    figure = r"\d[\d.,]* ?(s|ms|min|MB)\b"
    for paragraph in re.split(r"\n\s*\n", page.read_text()):
        if re.search(r"\bmeasured\b", paragraph, re.IGNORECASE) and re.search(figure, paragraph):
            assert re.search(r"20\d\d-\d\d-\d\d", paragraph), (page.name, paragraph)


def _shipped_rows() -> dict[str, list[str]]:
    text = (DOCS / "stack-config.md").read_text()
    table = text.split("<!-- shipped-stacks:", 1)[1].split("\n\n", 1)[0]
    rows = [
        [c.strip().strip("`") for c in line.strip("|").split("|")]
        for line in table.splitlines()[3:]
        if line.startswith("|")
    ]
    return {r[0]: r[1:] for r in rows}


def test_the_shipped_stacks_table_says_which_clouds_each_lock_places():
    """prod allows three clouds but its plan places two: the docs must say so, not "all three
    clouds", so no one sets up Azure credentials for nothing."""
    rows = _shipped_rows()
    stacks = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
    )
    assert sorted(rows) == stacks
    for stack, (allowed, placed, clusters, survive, cost) in rows.items():
        config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
        lock = json.loads((ROOT / "stacks" / f"placement.{stack}.json").read_text())
        assert allowed == ", ".join(config.get("tricloud:clouds", ["aws", "azure", "gcp"])), stack
        assert placed == ", ".join(sorted({c["cloud"] for c in lock["clusters"]})), stack
        assert int(clusters) == len(lock["clusters"]), stack
        assert survive == lock["survivability"]["survive"], stack
        assert cost == f"{lock['cost']['monthlyUsd']['total']:,.2f}", stack
