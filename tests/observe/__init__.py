"""Tests of :mod:`truex_qf.observe`.

The Redis tests get their server from ``tests/support/services.py`` (database 15; skipped without
a server, failed when ``TRUEX_QF_REQUIRE_SERVICES=1``).
"""
