"""The trading domain as plain values: no FIX engine, no sockets, no storage."""
