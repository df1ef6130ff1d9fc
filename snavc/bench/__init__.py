"""Benchmarks: a generator of large estates and the `make bench` runner."""
