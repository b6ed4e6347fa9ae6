"""Development and test tooling: the `make run` supervisor, the embedded servers, test helpers.

Not part of the installed package or the image (pyproject `packages.find` includes only
`services*` and `shared*`); importable from a source checkout, where `make` and `pytest` run.
"""
