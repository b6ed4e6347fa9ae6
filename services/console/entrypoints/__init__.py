"""Entrypoints of the console: the composition root and the command line."""
