"""deploy/: the Prometheus rules load, every metric the rules and the Grafana dashboard name
is in the program's exposition, every rule links to a runbook section, and the compose file
and provisioning are valid.

``promtool`` comes from Debian's ``prometheus`` package; CI installs it (.ci/run) and sets
``TRUEX_QF_REQUIRE_PROMTOOL=1``, so there its absence fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.exposition import exposition
from tests.support.market_maker import quoting_market_maker
from tests.support.runbook import resolve, sections
from truex_qf.observe.alerts import RULES
from truex_qf.observe.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
RULES_FILE = DEPLOY / "prometheus" / "alerts.yml"
SCRAPE_FILE = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "truex-qf.json"
COMPOSE = DEPLOY / "compose.yaml"
METRIC = re.compile(r"\btruexqf_[a-zA-Z0-9_]+")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("TRUEX_QF_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool is required here (apt-get install prometheus)")
        pytest.skip("promtool absent (Debian's prometheus package); CI installs it")
    return path


def exposed_names() -> set[str]:
    """Every sample name of the exposition, after a sample of a quoting market maker (as the
    program's pipeline does once a second)."""
    metrics = Metrics()
    mm, _sent = quoting_market_maker()
    metrics.sample(mm)
    text = exposition(metrics)
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]


def all_rules() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def test_promtool_accepts_the_rules_and_the_scrape_config(tmp_path):
    tool = promtool()
    checked = subprocess.run(
        [tool, "check", "rules", str(RULES_FILE)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The scrape config names the rules where compose mounts them; point it at ours.
    config = SCRAPE_FILE.read_text(encoding="utf-8").replace(
        "/etc/prometheus/alerts.yml", str(RULES_FILE)
    )
    (tmp_path / "prometheus.yml").write_text(config, encoding="utf-8")
    checked = subprocess.run(
        [tool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_metric_named_by_the_rules_and_the_dashboard_is_exposed():
    names = exposed_names()
    exprs = [rule["expr"] for rule in all_rules()] + dashboard_exprs()
    named = {name for expr in exprs for name in METRIC.findall(expr)}
    assert {"truexqf_fair_value_quote", "truexqf_quoted_spread_bps"} <= named
    assert any(name.endswith("_bucket") for name in named)
    missing = sorted(named - names)
    assert not missing, f"named in deploy/ but not exposed: {missing}"


def test_the_exposition_check_would_catch_a_misspelt_name():
    names = exposed_names()
    assert "truexqf_tick_to_quote_seconds_bucket" in names
    assert "truexqf_fills_total" in names
    assert "truexqf_fill_total" not in names and "truexqf_tick_to_quote_seconds" not in names


def test_every_program_alert_has_a_rule_and_every_rule_a_runbook_section():
    rules = all_rules()
    mirrored = {rule["labels"].get("rule") for rule in rules}
    assert set(RULES) <= mirrored
    anchors = sections()
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert resolve(rule["annotations"]["runbook_url"]) in anchors, rule["alert"]
        if rule["labels"].get("rule"):
            assert f'rule="{rule["labels"]["rule"]}"' in rule["expr"], rule["alert"]


def test_the_dashboard_shows_what_an_operator_watches():
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for p in board["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["targets"] for p in panels)
    text = " ".join(dashboard_exprs())
    for name in (
        "truexqf_session_up",
        "truexqf_orders_sent_total",
        "truexqf_fills_total",
        "truexqf_position_base",
        "truexqf_realized_pnl_quote",
        "truexqf_tick_to_quote_seconds_bucket",
        "truexqf_order_to_ack_seconds_bucket",
        "truexqf_fair_value_quote",
        "truexqf_quoted_spread_bps",
        "truexqf_book_age_seconds",
    ):
        assert name in text, name


def test_the_compose_file_starts_the_four_services_from_files_that_exist():
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "prometheus", "grafana"}
    for name, service in services.items():
        assert service["image"], name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)  # a trial: not on the network
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
    for path in (DEPLOY / "grafana" / "provisioning").rglob("*.yml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["apiVersion"] == 1, path
    scrape = yaml.safe_load(SCRAPE_FILE.read_text(encoding="utf-8"))
    assert scrape["scrape_configs"][0]["job_name"] == "truex-qf"


PROMTOOL_TESTS = """
rule_files:
  - {rules}
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'truexqf_alerts_active{{instance="a", job="truex-qf", rule="KILL_SWITCH"}}'
        values: '0 0 1 1 1 0'
      - series: 'truexqf_alerts_total{{instance="a", job="truex-qf", rule="KILL_SWITCH",
          status="firing"}}'
        values: '0 0 1 1 1 1 1 1 1 1 1 1 1 1'
      - series: 'up{{instance="a", job="truex-qf"}}'
        values: '1 1 0 0 0 0 0 0 0'
      - series: 'truexqf_book_age_seconds{{instance="a", job="truex-qf", symbol="BTC-PYUSD"}}'
        values: '1 1 90 105 120 135 150 165 180'
    alert_rule_test:
      - eval_time: 15s
        alertname: TruexQfKillSwitch
        exp_alerts: []
      - eval_time: 45s
        alertname: TruexQfKillSwitch
        exp_alerts:
          - exp_labels: &kill_switch
              severity: critical
              rule: KILL_SWITCH
              instance: a
              job: truex-qf
            exp_annotations: &kill_switch_text
              summary: "The kill switch is engaged: orders cancelled, trading halted."
              runbook_url: docs/runbook.md#kill_switch
      - eval_time: 75s  # no longer active, but fired within 2 minutes: one alert still
        alertname: TruexQfKillSwitch
        exp_alerts:
          - exp_labels: *kill_switch
            exp_annotations: *kill_switch_text
      - eval_time: 3m15s
        alertname: TruexQfKillSwitch
        exp_alerts: []
      - eval_time: 2m
        alertname: TruexQfDown
        exp_alerts:
          - exp_labels:
              severity: critical
              instance: a
              job: truex-qf
            exp_annotations:
              summary: "Prometheus cannot scrape truex-qf at a."
              runbook_url: docs/runbook.md#prometheus-truexqfdown
      - eval_time: 30s
        alertname: TruexQfBookStale
        exp_alerts: []
      - eval_time: 2m
        alertname: TruexQfBookStale
        exp_alerts:
          - exp_labels:
              severity: warning
              instance: a
              job: truex-qf
              symbol: BTC-PYUSD
            exp_annotations:
              summary: "The BTC-PYUSD book has not changed for 3m 0s."
              runbook_url: docs/runbook.md#market_data_stale
"""


def test_promtool_fires_the_rules_on_their_series(tmp_path):
    tool = promtool()
    spec = tmp_path / "tests.yml"
    spec.write_text(PROMTOOL_TESTS.format(rules=RULES_FILE), encoding="utf-8")
    checked = subprocess.run(
        [tool, "test", "rules", str(spec)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
