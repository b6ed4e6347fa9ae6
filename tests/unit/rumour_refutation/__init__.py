"""Unit tests for the rumour refutation service (DS-11)."""
