"""`python -m services.complaints`: run the complaints service."""

import asyncio

from services.complaints.entrypoints.app import main

if __name__ == "__main__":
    asyncio.run(main())
