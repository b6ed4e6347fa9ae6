"""Entry points of the labeling service."""
