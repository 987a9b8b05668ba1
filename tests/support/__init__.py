"""What the tests share, one job a module; test modules import from here, never each other.

- :mod:`~tests.support.sessions`: CompIDs unique in the process and the client's event log.
- :mod:`~tests.support.rawfix`: hand-rolled FIX peers (a client and a gateway) for bytes QuickFIX
  would never send.
- :mod:`~tests.support.processes`: truex-qf run as a separate process, pointed at an account.
- :mod:`~tests.support.services`: the real PostgreSQL and Redis servers.
- :mod:`~tests.support.netproxy`: a TCP forwarder a test takes down and brings back.
- :mod:`~tests.support.market_maker`: test strategies, a quoting market maker, stepping a runner.
- :mod:`~tests.support.matching`: builders and event filters for the simulator's matching engine.
- :mod:`~tests.support.timing`: a hand-moved clock and a bounded wait.
- :mod:`~tests.support.logs`: records of one logger.
- :mod:`~tests.support.storage`: rows, journals and databases for the storage tests.
- :mod:`~tests.support.books`: market data snapshots for book tests.
- :mod:`~tests.support.orders`: execution reports about a managed order.
- :mod:`~tests.support.runbook`: docs/runbook.md's anchors and sections.
- :mod:`~tests.support.figures`: reading a bench report's figures.
- :mod:`~tests.support.terminal`: a real terminal (tmux) a test reads the screen back from.
- :mod:`~tests.support.ws_feed`: a real local websocket server playing a venue's public feed.
- :mod:`~tests.support.simulated_market`: the simulator with simulated traders moving its book.

tests/conformance keeps its own raw client (it shares no code with the product) and uses only
:mod:`~tests.support.sessions` from here. ``tests/test_test_imports.py`` holds the rule.
"""
