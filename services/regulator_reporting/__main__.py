"""`python -m services.regulator_reporting [run | export-keys | reports]`: the service and admin commands."""

import asyncio
import sys

from services.regulator_reporting.entrypoints.admin import parser, run_command
from services.regulator_reporting.entrypoints.app import main

if __name__ == "__main__":
    args = parser().parse_args()
    if args.command in (None, "run"):
        asyncio.run(main())
    else:
        sys.exit(asyncio.run(run_command(args)))
