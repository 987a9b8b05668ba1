"""Small network helpers: free ports, and URLs safe to print."""

from __future__ import annotations

import re
import socket

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs (any scheme)."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
