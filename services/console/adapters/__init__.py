"""Adapters of the console: MongoDB repositories and the command sender."""
