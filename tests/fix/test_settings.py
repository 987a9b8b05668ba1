"""sessions.cfg names its two TrueX sessions, and the environment still overrides them.

A reader of sessions.cfg sees TRUEX_UAT_OE and TRUEX_UAT_MD (and UAT's host and ports) as the
defaults; config.py holds the same defaults for the rest of the program, and these tests keep
the two equal. Production's CompIDs come from the environment, through the validated
configuration, into the engine's settings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from truex_qf import config
from truex_qf.config import load_fix_settings
from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import SessionRole
from truex_qf.fix.settings import SESSIONS_CFG, initiator_settings, render_template

ENV = {
    "TRUEX_API_KEY": "11111111-2222-4333-8444-555555555555",
    "TRUEX_SECRET_KEY": "example-secret-do-not-use",
    "TRUEX_SENDER_COMP_ID": "MYFIRM_OE1",
    "TRUEX_CLIENT_ID": "12345678901234567",
}


def defaults_in_sessions_cfg() -> dict[str, str]:
    """Every ``${NAME:-default}`` of sessions.cfg, outside comments."""
    lines = [line for line in SESSIONS_CFG.read_text().splitlines() if not line.startswith("#")]
    return dict(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):-([^}]*)\}", "\n".join(lines)))


def targets(settings_and_roles) -> dict[SessionRole, str]:  # type: ignore[no-untyped-def]
    settings, roles = settings_and_roles
    return {
        roles[session_id.toString()]: session_id.getTargetCompID().getValue()
        for session_id in settings.getSessions()
    }


def test_sessions_cfg_shows_the_uat_sessions_as_defaults() -> None:
    """The file itself, as a FIX engineer reads it, names both UAT gateways."""
    defaults = defaults_in_sessions_cfg()
    assert defaults["TRUEX_OE_TARGET_COMP_ID"] == "TRUEX_UAT_OE"
    assert defaults["TRUEX_MD_TARGET_COMP_ID"] == "TRUEX_UAT_MD"


def test_sessions_cfg_defaults_equal_config_defaults() -> None:
    """One set of defaults in two places, held equal here so that they cannot drift."""
    assert defaults_in_sessions_cfg() == {
        "TRUEX_FIX_HOST": config.UAT_HOST,
        "TRUEX_ORDER_ENTRY_PORT": str(config.UAT_ORDER_ENTRY_PORT),
        "TRUEX_MARKET_DATA_PORT": str(config.UAT_MARKET_DATA_PORT),
        "TRUEX_OE_TARGET_COMP_ID": config.UAT_ORDER_ENTRY_TARGET,
        "TRUEX_MD_TARGET_COMP_ID": config.UAT_MARKET_DATA_TARGET,
    }


def test_no_environment_gives_the_uat_sessions(tmp_path: Path) -> None:
    """Nothing set: the engine's two sessions talk to TRUEX_UAT_OE and TRUEX_UAT_MD."""
    fix_settings = load_fix_settings({**ENV, "TRUEX_STATE_DIR": str(tmp_path)})
    assert targets(initiator_settings(fix_settings)) == {
        SessionRole.ORDER_ENTRY: "TRUEX_UAT_OE",
        SessionRole.MARKET_DATA: "TRUEX_UAT_MD",
    }


def test_production_comp_ids_come_from_the_environment(tmp_path: Path) -> None:
    """The environment wins over the file's defaults, host and ports included."""
    env = {
        **ENV,
        "TRUEX_STATE_DIR": str(tmp_path),
        "TRUEX_OE_TARGET_COMP_ID": "TRUEX_PROD_OE",
        "TRUEX_MD_TARGET_COMP_ID": "TRUEX_PROD_MD",
        "TRUEX_FIX_HOST": "10.1.2.3",
        "TRUEX_ORDER_ENTRY_PORT": "29484",
    }
    settings, roles = initiator_settings(load_fix_settings(env))
    assert targets((settings, roles)) == {
        SessionRole.ORDER_ENTRY: "TRUEX_PROD_OE",
        SessionRole.MARKET_DATA: "TRUEX_PROD_MD",
    }
    ports = {}
    for session_id in settings.getSessions():
        section = settings.get(session_id)
        assert section.getString("SocketConnectHost") == "10.1.2.3"
        ports[roles[session_id.toString()]] = section.getString("SocketConnectPort")
    assert ports == {SessionRole.ORDER_ENTRY: "29484", SessionRole.MARKET_DATA: "20484"}


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("T=${A:-x}", {"A": "y"}, "T=y"),
        ("T=${A:-x}", {}, "T=x"),
        ("T=${A:-x}", {"A": ""}, "T=x"),
        ("T=${A:-}", {}, "T="),
        ("T=${A}", {"A": ""}, "T="),
        ("# T=${UNKNOWN}", {}, "# T=${UNKNOWN}"),
        ("T=${A:-x}-${B}", {"B": "b"}, "T=x-b"),
    ],
)
def test_placeholders_with_defaults(template: str, values: dict[str, str], expected: str) -> None:
    """The shell's ``:-``: the default when unset or empty; comments are left alone."""
    assert render_template(template, values, "test.cfg") == expected


def test_unknown_placeholder_without_default_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"test\.cfg.*\$\{NOPE\}"):
        render_template("T=${NOPE}", {}, "test.cfg")
