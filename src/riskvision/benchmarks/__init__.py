"""Speed benchmarks: each prints ratios measured in one run (never a timing assert; scripts/benchmark_*.py)."""
