"""Whether the ``[local]`` extra is installed: the offline engine's own dependencies.

``pip install constructs-sm`` installs the constructs; the offline engine
(``python -m constructs_sm.local``) also needs ``pip install 'constructs-sm[local]'``:
moto in server mode, pinned to the release whose internals the engine patches, and
``regex`` for the SageMaker request validator. :func:`missing_local_extra` says what is
missing in a sentence with the fix, before anything imports moto,
:func:`require_unmoved` is how each of the engine's fixes of moto fails when what it
patches has moved, and :class:`Patches` is how a fix replaces moto's attributes, calls the
originals and puts them back. This module imports nothing outside the standard library.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Sequence
from typing import Any, Final

#: The command that installs the offline engine's dependencies.
INSTALL_LOCAL: Final = "pip install 'constructs-sm[local]'"
#: The moto release the engine is written against (pyproject.toml pins the same).
MOTO_VERSION: Final = "5.2.5"
#: Modules the engine imports, by the distribution that provides them.
_MODULES: Final = (
    ("moto", "moto"),
    ("moto.server", "moto[server]"),
    ("regex", "regex"),
)


def missing_local_extra() -> str | None:
    """Why the offline engine cannot run here (with the fix), or None when it can."""
    missing = []
    for module, distribution in _MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            missing.append(f"{distribution} ({error.name} cannot be imported)")
    if missing:
        return (
            "the offline engine needs the [local] extra of constructs-sm, which is not "
            f"installed (missing: {', '.join(missing)}); install it with: {INSTALL_LOCAL}"
        )
    try:
        installed = importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:  # importable without metadata: trust it
        return None
    if installed != MOTO_VERSION:
        return (
            f"the offline engine needs moto {MOTO_VERSION} (it patches that release's "
            f"internals), found moto {installed}; install the pinned one with: {INSTALL_LOCAL}"
        )
    return None


def require_unmoved(problems: Sequence[str], what: str) -> None:
    """Fail loudly when moto internals a fix of the engine patches have moved (each
    fix's ``check_integration_points``): ``problems`` names each one, ``what`` says
    which part of moto (``"its IAM internals changed"``)."""
    if problems:
        raise RuntimeError(
            f"constructs_sm.local supports moto {MOTO_VERSION} only; {what}: " + "; ".join(problems)
        )


class Patches:
    """The attributes of moto one of the engine's fixes replaced: each replaced once
    (``install`` is idempotent), its original at hand for the replacement to call, and
    every one put back by :meth:`restore`."""

    def __init__(self) -> None:
        self._saved: dict[tuple[int, str], tuple[object, str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._saved)

    def replace(self, owner: object, name: str, replacement: Any) -> None:
        """Set ``owner.name`` to ``replacement``, keeping what it was the first time."""
        key = (id(owner), name)
        if key not in self._saved:
            self._saved[key] = (owner, name, getattr(owner, name))
        setattr(owner, name, replacement)

    def original(self, owner: object, name: str) -> Any:
        """``owner.name`` as it was before :meth:`replace` (as it is, or None when it has
        no such attribute, if it was not replaced)."""
        saved = self._saved.get((id(owner), name))
        return saved[2] if saved is not None else getattr(owner, name, None)

    def restore(self) -> None:
        """Put every replaced attribute back, the last replaced first."""
        for owner, name, original in reversed(list(self._saved.values())):
            setattr(owner, name, original)
        self._saved.clear()
