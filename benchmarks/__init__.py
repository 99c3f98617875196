"""Benchmarks: python -m benchmarks (speed), python -m benchmarks.load (load)."""
