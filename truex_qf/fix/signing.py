"""TrueX's Logon signature: the only authentication on a FIX session.

Password(554) = base64(HMAC-SHA256(secret, 52 + 35 + 34 + 49 + 56 + 553)), every part its
exact wire string, concatenated with no separator; the secret is used as UTF-8 bytes as it is
(not hex- or base64-decoded). Both the client (to sign) and the simulated exchange (to verify)
use this one function, so they cannot drift apart; the tests check it against a worked
example computed independently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def logon_signature(
    secret: str,
    sending_time: str,
    msg_type: str,
    msg_seq_num: str,
    sender_comp_id: str,
    target_comp_id: str,
    username: str,
) -> str:
    """The base64 signature TrueX expects in Password(554) of a Logon."""
    payload = f"{sending_time}{msg_type}{msg_seq_num}{sender_comp_id}{target_comp_id}{username}"
    digest = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(expected: str, received: str) -> bool:
    """Constant-time comparison, so a verifier leaks nothing through timing."""
    return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii", "replace"))
