"""Pricing: fair value from the TrueX book and external references, and the quoting pipeline.

Nothing here imports ``quickfix``: the FIX edge feeds :mod:`truex_qf.marketdata` books, this
package turns them into quote proposals, and the order manager turns those into orders.
"""
