"""Pure biometric-consent rules: no I/O; time and ids are passed in."""
