"""The trading half of the market maker: orders, positions and PnL, pre-trade risk.

Plain Python that never imports ``quickfix``: the FIX edge converts inbound messages into
:mod:`truex_qf.domain.model` values and hands them to one trading thread, the only owner of
the state kept here. Nothing in this package takes a lock, because nothing in it is shared.
"""
