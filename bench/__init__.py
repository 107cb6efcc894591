"""Benchmarks for mtpipe: `make bench` (python -m bench [SCENARIO ...]). Figures, never asserts."""
