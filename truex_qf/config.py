"""Settings for the TrueX FIX sessions, read once from the environment and validated.

The environment names are those the existing TrueX deployment uses (``TRUEX_FIX_HOST``,
``TRUEX_API_KEY``, ...). Secrets come only from the environment (or a ``.env`` file loaded
into it) and are never printed: :class:`Credentials` hides the secret from ``repr`` and every
error names the setting, not its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from truex_qf.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent

UAT_HOST = "uat.truex.co"
UAT_ORDER_ENTRY_PORT = 19484
UAT_MARKET_DATA_PORT = 20484
UAT_ORDER_ENTRY_TARGET = "TRUEX_UAT_OE"
UAT_MARKET_DATA_TARGET = "TRUEX_UAT_MD"
UAT_REST_URL = "http://uat.truex.co:9742"

# Every variable the FIX layer reads, with what it means; the README's table mirrors this.
ENVIRONMENT = {
    "TRUEX_FIX_HOST": f"FIX host for both sessions (default {UAT_HOST})",
    "TRUEX_ORDER_ENTRY_PORT": f"order-entry port (default {UAT_ORDER_ENTRY_PORT})",
    "TRUEX_MARKET_DATA_PORT": f"market-data port (default {UAT_MARKET_DATA_PORT})",
    "TRUEX_API_KEY": "API key id, sent as Username(553) (required)",
    "TRUEX_SECRET_KEY": "API secret that signs the Logon (required; never logged)",
    "TRUEX_SENDER_COMP_ID": "your SenderCompID(49), a name you choose (required)",
    "TRUEX_CLIENT_ID": "TrueX client ID, sent as PartyID(448) on orders (required)",
    "TRUEX_OE_TARGET_COMP_ID": f"order-entry TargetCompID (default {UAT_ORDER_ENTRY_TARGET})",
    "TRUEX_MD_TARGET_COMP_ID": f"market-data TargetCompID (default {UAT_MARKET_DATA_TARGET})",
    "TRUEX_STATE_DIR": "folder for the engine's store and logs (default ./state)",
}

_COMP_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9_.\-:]{1,253}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,256}")  # printable, no spaces, no SOH
_CLIENT_ID = re.compile(r"[0-9]{1,32}")


@dataclass(frozen=True)
class Credentials:
    """The API key and secret. The secret never appears in ``repr`` or ``str``."""

    api_key: str
    secret_key: str = field(repr=False)


@dataclass(frozen=True)
class FixSettings:
    """Everything needed to open both TrueX sessions as an initiator."""

    host: str
    order_entry_port: int
    market_data_port: int
    sender_comp_id: str
    client_id: str
    credentials: Credentials
    order_entry_target: str = UAT_ORDER_ENTRY_TARGET
    market_data_target: str = UAT_MARKET_DATA_TARGET
    state_dir: Path = Path("state")

    def with_endpoint(self, host: str, order_entry_port: int, market_data_port: int) -> FixSettings:
        """The same identity pointed at another venue address (e.g. a local simulator)."""
        return FixSettings(
            host=host,
            order_entry_port=order_entry_port,
            market_data_port=market_data_port,
            sender_comp_id=self.sender_comp_id,
            client_id=self.client_id,
            credentials=self.credentials,
            order_entry_target=self.order_entry_target,
            market_data_target=self.market_data_target,
            state_dir=self.state_dir,
        )


def load_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``export`` prefix, quotes and ``#`` comments allowed).

    A malformed line is an error naming the file and line, never echoing the line: it may
    hold a secret.
    """
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the env file ({exc.strerror})") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"{path}:{number}", "expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def apply_env_file(path: Path, environ: dict[str, str] | None = None) -> None:
    """Load ``path`` into the environment; variables already set in the environment win."""
    target = os.environ if environ is None else environ
    for key, value in load_env_file(path).items():
        target.setdefault(key, value)


def _required(env: Mapping[str, str], name: str, pattern: re.Pattern[str], hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(name, f"not set ({hint})")
    if not pattern.fullmatch(value):
        raise ConfigError(name, f"malformed ({hint})")
    return value


def _optional(
    env: Mapping[str, str], name: str, default: str, pattern: re.Pattern[str], hint: str
) -> str:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not pattern.fullmatch(value):
        raise ConfigError(name, f"{value!r} is malformed ({hint})")
    return value


def parse_port(name: str, value: str) -> int:
    """A TCP port from text, or a ConfigError naming ``name``."""
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(name, f"{value!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise ConfigError(name, f"{port} is not a port number (1-65535)")
    return port


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    return parse_port(name, value) if value else default


def load_credentials(env: Mapping[str, str]) -> Credentials:
    """The API key and secret from the environment."""
    api_key = _required(env, "TRUEX_API_KEY", _TOKEN, "the API key id, e.g. a UUID")
    secret = env.get("TRUEX_SECRET_KEY", "")
    if not secret.strip():
        raise ConfigError("TRUEX_SECRET_KEY", "not set (the API secret that signs the Logon)")
    if secret != secret.strip() or "\x01" in secret:
        raise ConfigError("TRUEX_SECRET_KEY", "has surrounding spaces or control characters")
    return Credentials(api_key=api_key, secret_key=secret)


def load_identity(env: Mapping[str, str]) -> tuple[str, str]:
    """SenderCompID and client ID, validated."""
    sender = _required(
        env, "TRUEX_SENDER_COMP_ID", _COMP_ID, "letters, digits, _ . - ; at most 64 characters"
    )
    client_id = _required(env, "TRUEX_CLIENT_ID", _CLIENT_ID, "TrueX client IDs are digits")
    return sender, client_id


def load_fix_settings(env: Mapping[str, str] | None = None) -> FixSettings:
    """Validated FIX settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    credentials = load_credentials(env)
    sender, client_id = load_identity(env)
    if sender == credentials.api_key:
        raise ConfigError(
            "TRUEX_SENDER_COMP_ID", "must not be the API key (TrueX asks for a name you choose)"
        )
    targets = {
        name: _optional(env, name, default, _COMP_ID, "letters, digits, _ . -")
        for name, default in (
            ("TRUEX_OE_TARGET_COMP_ID", UAT_ORDER_ENTRY_TARGET),
            ("TRUEX_MD_TARGET_COMP_ID", UAT_MARKET_DATA_TARGET),
        )
    }
    if targets["TRUEX_OE_TARGET_COMP_ID"] == targets["TRUEX_MD_TARGET_COMP_ID"]:
        raise ConfigError(
            "TRUEX_MD_TARGET_COMP_ID", "must differ from TRUEX_OE_TARGET_COMP_ID (two gateways)"
        )
    oe_port = _port(env, "TRUEX_ORDER_ENTRY_PORT", UAT_ORDER_ENTRY_PORT)
    md_port = _port(env, "TRUEX_MARKET_DATA_PORT", UAT_MARKET_DATA_PORT)
    return FixSettings(
        host=_optional(env, "TRUEX_FIX_HOST", UAT_HOST, _HOST, "a host name or IP address"),
        order_entry_port=oe_port,
        market_data_port=md_port,
        sender_comp_id=sender,
        client_id=client_id,
        credentials=credentials,
        order_entry_target=targets["TRUEX_OE_TARGET_COMP_ID"],
        market_data_target=targets["TRUEX_MD_TARGET_COMP_ID"],
        state_dir=Path(env.get("TRUEX_STATE_DIR", "").strip() or "state"),
    )
