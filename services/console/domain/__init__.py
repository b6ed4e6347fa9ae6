"""The console's pure domain: roles, passwords, CSRF, login rate limits, projections and proofs (no I/O)."""
