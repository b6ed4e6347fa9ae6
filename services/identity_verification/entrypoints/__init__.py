"""Entrypoints of the identity service: the composition root and the AsyncAPI document."""
