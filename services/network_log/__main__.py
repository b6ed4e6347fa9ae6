"""`python -m services.network_log`: run the network log service."""

import asyncio

from services.network_log.entrypoints.app import main

if __name__ == "__main__":
    asyncio.run(main())
