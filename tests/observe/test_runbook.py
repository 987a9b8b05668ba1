"""docs/runbook.md has a section for every alert rule and every ``doctor`` check, and the
links the program prints (alert texts) and the runbook's own links resolve to its headings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.runbook import RUNBOOK, resolve, sections, slug
from tests.support.timing import FakeClock
from truex_qf.domain.model import LogonRefused, SessionRole
from truex_qf.observe.alerts import RULES, SEVERITIES, AlertManager
from truex_qf.observe.runbook import RUNBOOK_PATH, alert_link, doctor_anchor, doctor_link
from truex_qf.ops import doctor

DOCTOR_CHECKS = (
    doctor.CONFIG,
    doctor.DNS_FIX,
    doctor.DNS_REST,
    doctor.TCP_OE,
    doctor.TCP_MD,
    doctor.TCP_REST,
    doctor.LOGON_OE,
    doctor.LOGON_MD,
    doctor.CLOCK_SKEW,
    doctor.REST_HEALTH,
)
PARTS = ("**Means.**", "**Recovered when.**")


def test_the_slug_is_githubs():
    assert slug("`SESSION_DOWN`") == "session_down"
    assert slug("doctor: `TCP OE`") == "doctor-tcp-oe"
    assert doctor_anchor(doctor.TCP_OE) == "doctor-tcp-oe"


@pytest.mark.parametrize("rule", RULES)
def test_every_alert_rule_has_a_full_section(rule):
    text = sections().get(resolve(alert_link(rule)))
    assert text is not None, f"no section for {rule} in {RUNBOOK_PATH}"
    for part in (*PARTS, "**Already done.**", "**Check.**", "**Do.**"):
        assert part in text, (rule, part)


def test_the_rules_are_the_documented_ones():
    assert set(RULES) == set(SEVERITIES)
    assert len(RULES) >= 10


@pytest.mark.parametrize("check", DOCTOR_CHECKS)
def test_every_doctor_check_has_a_section(check):
    text = sections().get(resolve(doctor_link(check)))
    assert text is not None, f"no section for doctor check {check!r} in {RUNBOOK_PATH}"
    for part in PARTS:
        assert part in text, (check, part)


def test_the_doctor_checks_listed_here_are_all_the_doctors():
    names = {
        value
        for name, value in vars(doctor).items()
        if name.isupper() and isinstance(value, str) and value in DOCTOR_CHECKS
    }
    assert len(names) == len(DOCTOR_CHECKS)
    emitted = set(re.findall(r"emit\(\s*([A-Z_]+)", Path(doctor.__file__).read_text()))
    assert emitted <= {n for n, v in vars(doctor).items() if v in DOCTOR_CHECKS}, emitted


def test_an_alert_text_links_to_a_section_that_exists():
    alerts = AlertManager(None, FakeClock())
    alerts.observe(LogonRefused(SessionRole.ORDER_ENTRY, "oe", "Authentication failed", "8"))
    (firing,) = alerts.active()
    text = firing.payload("test")["text"]
    link = re.search(r"runbook: (\S+?)\)", text)
    assert link is not None, text
    assert resolve(link.group(1)) in sections()


def test_the_runbooks_own_links_resolve():
    anchors = sections()
    links = re.findall(r"\]\(#([^)]+)\)", RUNBOOK.read_text(encoding="utf-8"))
    assert links
    for anchor in links:
        assert anchor in anchors, anchor


def test_the_doctor_names_the_sections_of_its_failed_and_warned_checks():
    checks = [
        doctor.Check(doctor.CONFIG, doctor.Verdict.WARN, "ports swapped"),
        doctor.Check(doctor.TCP_OE, doctor.Verdict.FAIL, "refused"),
        doctor.Check(doctor.LOGON_OE, doctor.Verdict.SKIP, "not run"),
        doctor.Check(doctor.CLOCK_SKEW, doctor.Verdict.OK, "fine"),
    ]
    line = doctor.runbook_line(checks)
    assert line == ("runbook: docs/runbook.md#doctor-config, docs/runbook.md#doctor-tcp-oe")
    anchors = sections()
    for link in line.removeprefix("runbook: ").split(", "):
        assert resolve(link) in anchors
    assert doctor.runbook_line(checks[3:]) == ""
