"""Every source in a shipped file is a publication, a derivation or a stated assumption, and
the repository's only reference for published figures is docs/sources.md.

The rule (docs/sources.md, the opening section) is mechanical:

- a **publication** names a publisher from :data:`PUBLISHERS` and a date: a month and year
  ("Sep 2025", "28 Oct 2025"), an ISO month ("2025-09") or a filing's fiscal year ("FY2025");
- a **derivation** starts ``derived:`` and shows what it comes from: numbers or a publisher;
- an **assumption** starts ``assumption:`` and says why, in at least :data:`MIN_REASON_WORDS`
  words.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "assumptions").glob("*.yaml"))
SOURCES_MD = ROOT / "docs" / "sources.md"

PUBLISHERS = (
    "The Information",
    "Reuters",
    "WSJ",
    "FT",
    "FT Alphaville",
    "The Register",
    "Fortune",
    "Bloomberg",
    "CNBC",
    "New York Times",
    "HSBC",
    "Deutsche Bank",
    "Citi",
    "Altman",
    "OpenAI",
    "Microsoft",
    "NVIDIA",
    "Oracle",
    "AMD",
    "Amazon",
    "AWS",
    "Broadcom",
    "CoreWeave",
    "Cerebras",
    "SoftBank",
    "SoftBank Group",
    "Anthropic",
)
"""Who may be cited as a publication: outlets, the analysts whose notes are reported, and the
companies whose own statements and filings are quoted. Matched case-sensitively as words."""

MIN_REASON_WORDS = 4

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
DATE = re.compile(
    rf"\b{_MONTH}\s+(?:19|20)\d\d\b"  # Sep 2025, 28 Oct 2025, late Dec 2025
    r"|\b(?:19|20)\d\d-(?:0[1-9]|1[0-2])\b"  # 2025-09, 2025-09-05
    r"|\bFY(?:19|20)\d\d\b"  # the fiscal year of an annual filing
)
PUBLISHER = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in PUBLISHERS) + r")\b")
PREFIXED = re.compile(r"^(derived|assumption): (.+)$", re.DOTALL)


def source_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable source, or None if it is."""
    m = PREFIXED.match(text)
    if m:
        kind, rest = m.groups()
        if len(rest.split()) < MIN_REASON_WORDS:
            what = "from what" if kind == "derived" else "why"
            return f"{kind}: expected at least {MIN_REASON_WORDS} words saying {what}"
        if kind == "derived" and not (re.search(r"\d", rest) or PUBLISHER.search(rest)):
            return "derived: expected the numbers or the publication it is derived from"
        return None
    if text.lower().startswith(("derived", "assumption")):
        return "expected 'derived: ' or 'assumption: ' (lower case, a colon and a space)"
    if not PUBLISHER.search(text):
        return (
            "expected a known publisher (PUBLISHERS in tests/test_sources.py), "
            "or a 'derived: ' or 'assumption: ' prefix"
        )
    if not DATE.search(text):
        return "expected a date with the publisher (a month and year, YYYY-MM or FY2025)"
    return None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("The Information, 5 Sep 2025, via Reuters: cumulative burn 2025-2029", True),
        ("Altman, 28 Oct and 6 Nov 2025: ~1.4 trillion", True),
        ("Oracle 10-K FY2025: revenue ~57 (approximate)", True),
        ("HSBC, Nov 2025: OpenAI revenue 213.6 in 2030", True),
        ("derived: 125 / 145 = 0.862 (The Information, Apr 2025)", True),
        ("assumption: the Abilene lease held flat", True),
        # the shapes this test exists to refuse
        ("174 (low analyst case)", False),  # no publisher, no date
        ("HSBC: OpenAI revenue 213.6 in 2030", False),  # a year of data is not a date
        ("Feb 2026 report", False),  # a date without a publisher
        ("IPO talk: a valuation of up to 1,000", False),
        ("assumption", False),  # no reason
        ("assumption: private developer", False),  # too short to be a reason
        ("derived: the rest of the holders", False),  # derived from nothing stated
        ("Derived: 1 - 0.27", False),  # the prefix is exact
        ("OpenAI / SoftBank, 31 Mar 2025: up to 40 at 300 post-money", True),
        ("FTX, Sep 2025", False),  # publishers match as whole words
    ],
)
def test_source_rule(text: str, ok: bool) -> None:
    assert (source_problem(text) is None) is ok, source_problem(text)


def _sources(node: object, where: str) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "source":
                found.append((where, v))
            else:
                found += _sources(v, f"{where}.{k}" if where else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _sources(v, f"{where}[{i}]")
    return found


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_source_is_a_publication_a_derivation_or_an_assumption(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    found = _sources(data, "")
    assert found, f"{path.name}: no sources at all"
    bad = [
        f"{where}: {problem}: {text!r}"
        for where, text in found
        if (problem := source_problem(text) if isinstance(text, str) else "expected text")
    ]
    assert not bad, f"{path.name}:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "path", [p for p in SHIPPED if not p.name.startswith("network-")], ids=lambda p: p.stem
)
def test_every_scenario_lists_its_own_targets(path: Path) -> None:
    """Each scenario file states the published figures it reproduces, with sources, rather
    than leaving a reader to find them in the file it extends."""
    targets = yaml.safe_load(path.read_text()).get("targets")
    assert isinstance(targets, list) and len(targets) >= 2, path.name
    assert all(isinstance(t, dict) and t.get("source") for t in targets), path.name


# the maintainer edits these at merge time; their references are listed in the change report
OWNED_BY_MAINTAINER: set[str] = set()
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini", ".sh", ""}
SKIP_DIRS = {
    ".git",
    ".venv",
    "outputs",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}


def _repo_text_files() -> list[Path]:
    files = []
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if p.is_file() and p.suffix in TEXT_SUFFIXES and str(rel) not in OWNED_BY_MAINTAINER:
            files.append(p)
    return files


def test_no_file_refers_to_notes_outside_the_repository() -> None:
    """Published figures are cited from docs/sources.md or the publication itself; nothing
    points at a file that is not in the repository."""
    # built from pieces so that this line does not match itself
    outside = re.compile(r"\b" + "FAC" + r"TS\b|\b" + "sha" + "red/")
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _repo_text_files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if outside.search(line)
    ]
    assert not hits, "\n".join(hits)


SECTION_REF = re.compile(r"docs/sources\.md,?\s+sections?\s+(\d+(?:(?:,\s*|\s+and\s+)\d+)*)")


def test_references_to_sources_md_name_existing_sections() -> None:
    headings = set(re.findall(r"^## (\d+)\. ", SOURCES_MD.read_text(), re.MULTILINE))
    assert headings >= {str(n) for n in range(1, 11)}
    refs = [
        (p.relative_to(ROOT), n)
        for p in _repo_text_files()
        for m in SECTION_REF.finditer(p.read_text(errors="replace"))
        for n in re.findall(r"\d+", m.group(1))
    ]
    assert refs, "the shipped files cite docs/sources.md by section"
    missing = [f"{p}: section {n}" for p, n in refs if n not in headings]
    assert not missing, missing
