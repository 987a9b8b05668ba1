"""Operator tools: doctor, proxy, test order, status view and reports."""
