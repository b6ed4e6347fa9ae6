"""`python -m services.identity_verification`: run the identity verification service."""

import asyncio

from services.identity_verification.entrypoints.app import main

if __name__ == "__main__":
    asyncio.run(main())
