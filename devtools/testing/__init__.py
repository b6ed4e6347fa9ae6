"""Helpers for tests and benchmarks: embedded servers, service processes, event builders, recorders."""
