"""Pure identity-verification rules: no I/O; time is passed in."""
