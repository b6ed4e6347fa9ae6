"""`python -m shared.runtime`: the same as the `dsgov` command."""

from shared.runtime.cli import main

raise SystemExit(main())
