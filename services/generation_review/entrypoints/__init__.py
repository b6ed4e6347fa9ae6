"""Entrypoints of the review service: the composition root, the CLI and the AsyncAPI document."""
