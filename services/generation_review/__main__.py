"""`python -m services.generation_review`: run the service; `... library <command>` manages the library."""

import asyncio
import sys

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from services.generation_review.entrypoints.cli import main as cli

        sys.exit(cli(sys.argv[1:]))
    from services.generation_review.entrypoints.app import main

    asyncio.run(main())
