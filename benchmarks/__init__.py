"""Benchmarks: reproducible instances of growing size and a runner that compares the solvers."""
