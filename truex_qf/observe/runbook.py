"""Where the runbook (``docs/runbook.md``) explains each alert and each ``doctor`` check.

An alert or a failed check that only says what is wrong leaves the operator guessing; each
one names its runbook section, and a test holds every name here to a heading of the runbook.
Anchors are the slugs GitHub (and most Markdown renderers) derive from a heading, so the
runbook's headings are exactly the alert rule (``### `SESSION_DOWN```) or the check's name
(``### doctor: `TCP OE```), with the summary on the line below: a rule's anchor is its
name in lower case, a check's is ``doctor-`` and its name with spaces as hyphens.
"""

from __future__ import annotations

RUNBOOK_PATH = "docs/runbook.md"


def alert_anchor(rule: str) -> str:
    """``SESSION_DOWN`` -> ``session_down`` (the slug of its heading)."""
    return rule.lower()


def doctor_anchor(check: str) -> str:
    """``TCP OE`` -> ``doctor-tcp-oe``."""
    return "doctor-" + "-".join(check.lower().split())


def alert_link(rule: str) -> str:
    """The runbook section of an alert rule, as a path with its anchor."""
    return f"{RUNBOOK_PATH}#{alert_anchor(rule)}"


def doctor_link(check: str) -> str:
    """The runbook section of a ``doctor`` check, as a path with its anchor."""
    return f"{RUNBOOK_PATH}#{doctor_anchor(check)}"
