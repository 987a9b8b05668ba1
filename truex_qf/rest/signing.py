"""TrueX's REST request signature, shared by the client (to sign) and the simulator (to verify).

x-truex-auth-signature = base64(HMAC-SHA256(secret, timestamp + METHOD + path [+ body])), where
``timestamp`` is the decimal epoch-seconds string sent in ``x-truex-auth-timestamp``, METHOD is
upper case and ``path`` is the request path as sent (no scheme, host or query string). The
secret is used as its UTF-8 bytes, as on the FIX Logon (spec §2, §9.2).

Whether the body is part of the payload is not settled: TrueX's docs and the JS client append
it, the official ``getClientIds.py`` signs GET requests with no body at all. Callers decide by
passing ``body`` or not; our client only sends GET and DELETE, which have no body, so both
readings give the same signature today.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def rest_payload(
    timestamp_s: int | str, method: str, path: str, body: bytes | str | None = b""
) -> bytes:
    """The exact bytes TrueX signs: ``timestamp + METHOD + path`` and the body, if any."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = f"{int(timestamp_s)}{method.upper()}{path}".encode()
    return head + (body or b"")


def rest_signature(
    secret: str,
    timestamp_s: int | str,
    method: str,
    path: str,
    body: bytes | str | None = b"",
) -> str:
    """The base64 value of ``x-truex-auth-signature`` for one request."""
    digest = hmac.new(
        secret.encode("utf-8"), rest_payload(timestamp_s, method, path, body), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")
