"""The trading half of the market maker: orders, positions and PnL, pre-trade risk.

Plain Python that never imports ``quickfix``: the FIX edge converts inbound messages into
:mod:`truex_qf.domain.model` values and applies them holding the runner's trading lock, which
makes whoever holds it the one owner of the state kept here. Nothing in this package takes a
lock of its own: the one lock is taken around it (:mod:`truex_qf.app.runner`).
"""
