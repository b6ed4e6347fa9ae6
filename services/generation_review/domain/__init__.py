"""Pure generation-review rules: no I/O; time and ids are passed in."""
