"""``python -m constructs_sm.local``: see :mod:`constructs_sm.local.cli`."""

from constructs_sm.local.cli import main_process

raise SystemExit(main_process())
