"""The item a ``for_each`` step's job runs for: :func:`item` and :func:`item_index`."""

from __future__ import annotations

import os

from constructs_sm.runtime._constants import ITEM_ENV, ITEM_INDEX_ENV
from constructs_sm.runtime._errors import RuntimeConfigError


def item() -> str:
    """The item this job runs for: an item of the ``string_list`` parameter, or the S3 key
    of the object (for ``for_each=step.output(...)``; the object itself is in the input
    channel of that output's name).

    :raises RuntimeConfigError: outside a ``for_each`` step (no ``CSM_ITEM`` variable).
    """
    value = os.environ.get(ITEM_ENV)
    if value is None:
        raise RuntimeConfigError(
            f"runtime.item() is the item of a for_each step's job; {ITEM_ENV} is not set "
            "(this step has no for_each)"
        )
    return value


def item_index() -> int:
    """The item's position among the step's items (0 for the first).

    :raises RuntimeConfigError: outside a ``for_each`` step, or for a value that is not a
        non-negative integer.
    """
    value = os.environ.get(ITEM_INDEX_ENV)
    if value is None:
        raise RuntimeConfigError(
            f"runtime.item_index() is the position of a for_each step's item; "
            f"{ITEM_INDEX_ENV} is not set (this step has no for_each)"
        )
    if not value.isdigit():
        raise RuntimeConfigError(f"{ITEM_INDEX_ENV} must be a non-negative integer, got {value!r}")
    return int(value)
