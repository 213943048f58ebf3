"""Tooling around the lessons: benchmarks, `make reproduce`, the book, workshop exercises and the
GPU-machine procedure."""
