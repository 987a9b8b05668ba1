"""Benchmarks and the hot-path harness: outside the product, they drive it from here."""
