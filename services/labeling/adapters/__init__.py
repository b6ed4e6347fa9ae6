"""Adapters of the labeling service (the store)."""
