"""Benchmarks for nantrace (run from the repository root: ``python -m bench.overhead``)."""
