"""The engine benchmark's CDK app and its no-op step (see tests/benchmarks/bench_engine.py)."""
