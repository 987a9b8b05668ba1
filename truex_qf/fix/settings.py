"""QuickFIX session settings: ``sessions.cfg`` rendered from validated configuration.

Building the engine's settings from text keeps ``sessions.cfg`` a real QuickFIX file a FIX
engineer can read, while host, ports, CompIDs and paths come from the one validated
:class:`~truex_qf.config.FixSettings`. The simulator and the tests build theirs with
:func:`settings_from_sections` the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import quickfix as fix

from truex_qf.config import PROJECT_DIR, FixSettings
from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import SessionRole

SESSIONS_CFG = PROJECT_DIR / "sessions.cfg"
SPEC_DIR = PROJECT_DIR / "spec"
ROLE_KEY = "TruexRole"
# ${NAME} or ${NAME:-default}, the shell's spelling: the default applies when NAME is unset or
# empty, so sessions.cfg itself shows what a session talks to when nothing is configured.
_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def render_template(template: str, values: Mapping[str, str], source: str) -> str:
    """Fill ``${NAME}`` and ``${NAME:-default}`` placeholders.

    ``default`` stands in when ``values`` has no NAME or an empty one. A name that is neither
    known nor defaulted is a ConfigError naming the file.
    """

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = values.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            raise ConfigError(source, f"unknown placeholder ${{{name}}}")
        return value

    return "\n".join(
        line if line.lstrip().startswith("#") else _PLACEHOLDER.sub(substitute, line)
        for line in template.splitlines()
    )


def parse_settings(text: str, source: str) -> fix.SessionSettings:
    """QuickFIX settings from text, with the engine's complaint turned into a ConfigError."""
    settings = fix.SessionSettings()
    try:
        settings.setFromString(text)
    except (fix.ConfigError, fix.RuntimeError) as exc:
        raise ConfigError(source, f"QuickFIX refused the settings: {exc}") from None
    return settings


def initiator_settings(
    config: FixSettings, template_path: Path = SESSIONS_CFG
) -> tuple[fix.SessionSettings, dict[str, SessionRole]]:
    """The client's engine settings and, per session ID string, its role."""
    try:
        template = template_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(template_path), f"cannot read ({exc.strerror})") from None
    values = {
        "TRUEX_SENDER_COMP_ID": config.sender_comp_id,
        "TRUEX_FIX_HOST": config.host,
        "TRUEX_ORDER_ENTRY_PORT": str(config.order_entry_port),
        "TRUEX_MARKET_DATA_PORT": str(config.market_data_port),
        "TRUEX_OE_TARGET_COMP_ID": config.order_entry_target,
        "TRUEX_MD_TARGET_COMP_ID": config.market_data_target,
        "STATE_DIR": str(config.state_dir.resolve()),
        "SPEC_DIR": str(SPEC_DIR),
    }
    settings = parse_settings(
        render_template(template, values, str(template_path)), str(template_path)
    )
    (config.state_dir / "store").mkdir(parents=True, exist_ok=True)
    return settings, session_roles(settings, str(template_path))


def session_roles(settings: fix.SessionSettings, source: str) -> dict[str, SessionRole]:
    """Each session's :class:`SessionRole` from its ``TruexRole`` key; both roles required."""
    roles: dict[str, SessionRole] = {}
    for session_id in settings.getSessions():
        section = settings.get(session_id)
        if not section.has(ROLE_KEY):
            raise ConfigError(source, f"session {session_id.toString()} has no {ROLE_KEY}")
        value = section.getString(ROLE_KEY)
        try:
            roles[session_id.toString()] = SessionRole(value)
        except ValueError:
            raise ConfigError(source, f"{ROLE_KEY}={value} is not a known role") from None
    missing = set(SessionRole) - set(roles.values())
    if missing:
        names = ", ".join(sorted(role.value for role in missing))
        raise ConfigError(source, f"no session with {ROLE_KEY}={names}")
    return roles


def settings_from_sections(
    default: Mapping[str, object], sessions: Sequence[Mapping[str, object]], source: str
) -> fix.SessionSettings:
    """Settings from a [DEFAULT] mapping and one mapping per [SESSION]."""

    def section(name: str, values: Mapping[str, object]) -> str:
        return "\n".join([f"[{name}]", *(f"{key}={value}" for key, value in values.items())])

    text = "\n".join([section("DEFAULT", default), *(section("SESSION", s) for s in sessions)])
    return parse_settings(text + "\n", source)
