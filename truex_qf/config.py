"""Settings for the TrueX FIX sessions, read once from the environment and validated.

The environment names are those the existing TrueX deployment uses (``TRUEX_FIX_HOST``,
``TRUEX_API_KEY``, ...). Secrets come only from the environment (or a ``.env`` file loaded
into it) and are never printed: :class:`Credentials` hides the secret from ``repr`` and every
error names the setting, not its value.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from truex_qf.domain.errors import ConfigError

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
    "TRUEX_REST_URL": f"TrueX REST API root, http(s)://host[:port] or off (default {UAT_REST_URL})",
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


def process_environment() -> Mapping[str, str]:
    """The process environment: the only place truex-qf reads it.

    Every other module receives values (or, for the diagnostics that report on the
    environment itself, this mapping) from the functions of this module.
    """
    return os.environ


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _text(env: Mapping[str, str] | None, name: str) -> str:
    """``env[name]`` stripped, "" when unset."""
    return _env(env).get(name, "").strip()


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


def optional_port(env: Mapping[str, str], name: str) -> int | None:
    """The port in ``env[name]``, None when unset or empty; a ConfigError when malformed."""
    value = env.get(name, "").strip()
    return parse_port(name, value) if value else None


def optional_host(env: Mapping[str, str], name: str, default: str) -> str:
    """A host name or IP address from ``env[name]``, ``default`` when unset."""
    return _optional(env, name, default, _HOST, "a host name or IP address")


def parse_url(name: str, value: str, schemes: tuple[str, ...], *, needs_host: bool = True) -> str:
    """``value`` if it is a URL with one of ``schemes``, a host and a valid port.

    The error names ``name`` and shows only the scheme and host: a URL may carry a password
    or a token (webhooks often do), and no secret is ever printed.
    """
    expected = " or ".join(f"{scheme}://" for scheme in schemes)
    if not value or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ConfigError(name, f"not a URL: expected {expected}host[:port]")
    try:
        parts = urlsplit(value)
        port = parts.port  # parsed lazily: out of range or not a number raises here
    except ValueError:
        raise ConfigError(name, f"{_url_head(value)}: malformed host or port") from None
    if parts.scheme.lower() not in schemes:
        shown = f"{parts.scheme}://" if parts.scheme else repr(_url_head(value))
        raise ConfigError(name, f"{shown} is not supported: expected {expected}host[:port]")
    if needs_host and not parts.hostname:
        raise ConfigError(name, f"{_url_head(value)}: no host (expected {expected}host[:port])")
    if port == 0:
        raise ConfigError(name, f"{_url_head(value)}: port 0 is not a port number (1-65535)")
    return value


def _url_head(value: str) -> str:
    """Scheme and host of a URL for messages: never its user, password, path or query."""
    try:
        parts: SplitResult = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return value.partition(":")[0][:20] + ":..."
    return f"{parts.scheme}://{host}" if parts.scheme else host[:40] or value[:20]


def optional_url(
    env: Mapping[str, str], name: str, schemes: tuple[str, ...], *, needs_host: bool = True
) -> str | None:
    """The URL in ``env[name]`` checked by :func:`parse_url`; None when unset or empty."""
    value = env.get(name, "").strip()
    return parse_url(name, value, schemes, needs_host=needs_host) if value else None


REDIS_SCHEMES = ("redis", "rediss", "unix")
WEB_SCHEMES = ("http", "https")


def redis_url(env: Mapping[str, str] | None = None) -> str | None:
    """``REDIS_URL`` (redis://, rediss:// or unix://), None when unset."""
    value = _text(env, "REDIS_URL")
    if not value:
        return None
    return parse_url("REDIS_URL", value, REDIS_SCHEMES, needs_host=not value.startswith("unix"))


def rest_url(env: Mapping[str, str] | None = None) -> str | None:
    """``TRUEX_REST_URL`` (default: UAT's), or None for ``off`` (no REST client)."""
    value = _text(env, "TRUEX_REST_URL") or UAT_REST_URL
    if value.lower() == "off":
        return None
    return parse_url("TRUEX_REST_URL", value, WEB_SCHEMES)


def rest_url_is_set(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``TRUEX_REST_URL`` is set at all (unset: UAT's, which the doctor warns about)."""
    return bool(_text(env, "TRUEX_REST_URL"))


def database_url_setting(env: Mapping[str, str] | None = None) -> str | None:
    """``DATABASE_URL`` as given, None when unset (storage.database checks and completes it)."""
    return _text(env, "DATABASE_URL") or None


def live_namespace(env: Mapping[str, str] | None = None) -> str | None:
    """``TRUEX_LIVE_NAMESPACE``: the live state's Redis namespace, None when unset."""
    return _text(env, "TRUEX_LIVE_NAMESPACE") or None


def sender_comp_id_setting(env: Mapping[str, str] | None = None) -> str | None:
    """``TRUEX_SENDER_COMP_ID`` as given, unchecked (a status view's last-resort namespace)."""
    return _text(env, "TRUEX_SENDER_COMP_ID") or None


UNKNOWN_ORDER_POLICIES = ("cancel", "adopt")


def unknown_orders(env: Mapping[str, str] | None = None) -> str:
    """``TRUEX_UNKNOWN_ORDERS``: what reconciliation does with venue orders we did not place."""
    value = _text(env, "TRUEX_UNKNOWN_ORDERS").lower() or "cancel"
    if value not in UNKNOWN_ORDER_POLICIES:
        raise ConfigError("TRUEX_UNKNOWN_ORDERS", f"{value!r}: use cancel or adopt")
    return value


GIVE_UP_ENV = "TRUEX_GIVE_UP_AFTER_S"


def give_up_after_s(env: Mapping[str, str] | None = None) -> float | None:
    """``TRUEX_GIVE_UP_AFTER_S``: how long the run may wait (WAITING: for reconciliation, for a
    quotable symbol) before it gives up and exits 1; None when unset (the market maker's
    default, 60 s)."""
    text = _text(env, GIVE_UP_ENV)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(GIVE_UP_ENV, f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError(GIVE_UP_ENV, f"{text!r} must be a positive number of seconds")
    return value


def runtime_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """``XDG_RUNTIME_DIR`` (the per-user runtime folder for the account locks), None when unset."""
    text = _text(env, "XDG_RUNTIME_DIR")
    return Path(text) if text else None


@dataclass(frozen=True)
class RecordingSettings:
    """Where a run records to and what watches it, as the environment says.

    ``database_url`` is None for the default SQLite file in the state folder.
    """

    database_url: str | None
    redis_url: str | None
    metrics_port: int | None
    metrics_host: str
    alert_webhook: str | None
    namespace: str | None


def recording_settings(env: Mapping[str, str] | None = None) -> RecordingSettings:
    """DATABASE_URL, REDIS_URL, TRUEX_METRICS_PORT/HOST, TRUEX_ALERT_WEBHOOK_URL and
    TRUEX_LIVE_NAMESPACE, each checked (DATABASE_URL by storage.database)."""
    env = _env(env)
    return RecordingSettings(
        database_url=database_url_setting(env),
        redis_url=redis_url(env),
        metrics_port=optional_port(env, "TRUEX_METRICS_PORT"),
        metrics_host=optional_host(env, "TRUEX_METRICS_HOST", "127.0.0.1"),
        alert_webhook=optional_url(env, "TRUEX_ALERT_WEBHOOK_URL", WEB_SCHEMES),
        namespace=live_namespace(env),
    )


# ----------------------------------------------------------------------------- the state folder


def state_dir_setting(env: Mapping[str, str] | None = None) -> Path:
    """``TRUEX_STATE_DIR`` as a path (default ``state``), not yet checked against the disk."""
    return Path(_text(env, "TRUEX_STATE_DIR") or "state")


def prepare_state_dir(path: Path, setting: str = "TRUEX_STATE_DIR") -> Path:
    """``path`` created if missing and proven writable, or a ConfigError naming ``setting``.

    Proven by creating (and removing) a file in it: permission bits say nothing of a
    read-only file system, and nothing at all when running as root.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(setting, f"{path} is a file, not a folder") from None
    except NotADirectoryError:
        raise ConfigError(setting, f"{path}: a part of the path is a file, not a folder") from None
    except OSError as exc:
        raise ConfigError(setting, f"cannot create the folder {path} ({exc.strerror})") from None
    if not path.is_dir():
        raise ConfigError(setting, f"{path} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(setting, f"cannot write in the folder {path} ({exc.strerror})") from None
    return path


def check_state_dir(path: Path, setting: str = "TRUEX_STATE_DIR") -> Path:
    """``path`` if it is a folder or does not exist yet (for commands that only read it)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(setting, f"{path} is a file, not a folder")
    return path


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
    env = _env(env)
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
        state_dir=state_dir_setting(env),
    )
