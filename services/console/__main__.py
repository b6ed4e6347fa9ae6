"""`python -m services.console`: run the console (subcommands: create-user, reset-password, verify-proof)."""

from services.console.entrypoints.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
