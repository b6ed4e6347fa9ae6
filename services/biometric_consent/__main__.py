"""`python -m services.biometric_consent`: run the service; `... proof <consent_id>` / `... verify <file>`."""

import asyncio
import sys

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from services.biometric_consent.entrypoints.cli import main as cli

        sys.exit(cli(sys.argv[1:]))
    from services.biometric_consent.entrypoints.app import main

    asyncio.run(main())
