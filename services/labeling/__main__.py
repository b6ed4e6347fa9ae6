"""`python -m services.labeling`: run the service; `... lookup ARGS`: query the label ledger."""

import asyncio
import sys

from services.labeling.entrypoints.app import main
from services.labeling.entrypoints.lookup import main as lookup_main

if __name__ == "__main__":
    if sys.argv[1:2] == ["lookup"]:
        sys.exit(lookup_main(sys.argv[2:]))
    asyncio.run(main())
