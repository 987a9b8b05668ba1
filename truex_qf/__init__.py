"""truex-qf: a market maker for the TrueX crypto exchange, built on the QuickFIX engine.

Only :mod:`truex_qf.fix` imports ``quickfix``; everything else is plain Python that a unit
test can drive without a socket.
"""

__version__ = "0.1.0"
