"""Bench-only Django settings: the service plus a trivial view that measures the ceiling."""
