"""``python -m constructs_sm.local``: see :mod:`constructs_sm.local.cli`."""

from constructs_sm.local.cli import main

raise SystemExit(main())
