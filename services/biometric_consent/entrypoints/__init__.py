"""Entrypoints of the consent service: the composition root, the proof CLI and the AsyncAPI document."""
