"""Helpers for reconciler's own tests and reliability report (they need the test extras).

Shipped in the package, as structlog does with its test helpers, so the test suite and the
scripts under ``benchmarks/`` share one set of hostile-input generators.
"""
