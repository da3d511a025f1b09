"""Benchmarks: each measures Vivier against a hand-written baseline in the same run."""
