"""The FIX edge: the only package that imports ``quickfix``.

It turns inbound messages into the dataclasses of :mod:`truex_qf.domain.model` and domain
commands into messages, and owns the engine's lifecycle. Nothing outside this package sees a
``quickfix`` object.
"""
