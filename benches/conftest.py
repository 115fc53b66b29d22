"""Benchmark fixtures live beside the suites; see benches/RESULTS.md for recorded numbers."""
