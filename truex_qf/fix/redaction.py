"""Masks credentials in raw FIX text before it reaches any log, file or database.

Password(554) holds the Logon signature; NewPassword(925) and RawData(96) can hold secrets in
other dialects. Username(553) is the API key id: not a secret, but only its first characters
are kept, enough to tell two keys apart in a log.
"""

from __future__ import annotations

import re

SOH = "\x01"
_SECRET_FIELD = re.compile(r"(^|\x01)(554|925|96)=[^\x01]*")
_USERNAME_FIELD = re.compile(r"(^|\x01)553=([^\x01]{0,8})[^\x01]*")


def redact(raw: str) -> str:
    """``raw`` with every secret field's value replaced by ``***``."""
    if "554=" not in raw and "553=" not in raw and "925=" not in raw and "96=" not in raw:
        return raw  # the common case costs one scan, not a regex pass
    masked = _SECRET_FIELD.sub(r"\1\2=***", raw)
    return _USERNAME_FIELD.sub(r"\g<1>553=\2***", masked)


def printable(raw: str) -> str:
    """Redacted, with SOH shown as ``|`` for humans."""
    return redact(raw).replace(SOH, "|")
