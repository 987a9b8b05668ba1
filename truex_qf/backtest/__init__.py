"""Backtests: captured market data replayed in virtual time through the market maker that
``run`` uses, against a :class:`~truex_qf.sim.local_venue.LocalVenue` (see
:mod:`truex_qf.backtest.replay`)."""
