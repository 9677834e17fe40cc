"""The runtime's errors: one base class, one subclass per kind of mistake."""

from __future__ import annotations


class RuntimeConfigError(Exception):
    """Base class of the runtime's errors (also raised for a broken spec or config file)."""


class ParameterError(RuntimeConfigError, ValueError):
    """An execution parameter or environment value is missing or not allowed by the spec."""


class ChannelError(RuntimeConfigError, LookupError):
    """A channel is not declared for this step, or its input directory does not exist."""


class ReturnValueError(RuntimeConfigError, ValueError):
    """A value passed to :func:`emit` is not declared or has the wrong type."""
