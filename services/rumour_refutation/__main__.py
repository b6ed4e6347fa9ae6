"""`python -m services.rumour_refutation`: run the service; `... case <notice_id>`: print a case file."""

import asyncio
import sys

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from services.rumour_refutation.entrypoints.cli import main as cli

        sys.exit(cli(sys.argv[1:]))
    from services.rumour_refutation.entrypoints.app import main

    asyncio.run(main())
