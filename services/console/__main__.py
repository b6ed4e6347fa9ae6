"""`python -m services.console`: run the console; `create-user` and `verify-proof` are subcommands."""

from services.console.entrypoints.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
