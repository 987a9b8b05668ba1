"""docs/runbook.md read as GitHub renders it: its headings' anchors and each section's text."""

from __future__ import annotations

import re
from pathlib import Path

from truex_qf.observe.runbook import RUNBOOK_PATH

ROOT = Path(__file__).resolve().parents[2]  # the repository
RUNBOOK = ROOT / RUNBOOK_PATH


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but ``-`` and ``_`` dropped,
    spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def sections() -> dict[str, str]:
    """Anchor -> the section's text (up to the next heading of any level)."""
    found: dict[str, str] = {}
    anchor = None
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            anchor = slug(heading.group(1))
            assert anchor not in found, f"two headings make the anchor #{anchor}"
            found[anchor] = ""
        elif anchor is not None:
            found[anchor] += line + "\n"
    return found


def resolve(link: str) -> str:
    path, _, anchor = link.partition("#")
    assert (ROOT / path).is_file(), link
    return anchor
