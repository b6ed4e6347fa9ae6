"""`python -m devtools run`: the embedded system behind `make run` (from a source checkout only)."""

import sys

from devtools.supervisor import run

if sys.argv[1:] != ["run"]:
    print("usage: python -m devtools run   (what `make run` does)", file=sys.stderr)
    raise SystemExit(2)
raise SystemExit(run())
