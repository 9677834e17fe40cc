"""Typed pipeline parameters: their declaration and synth-time validation.

A :class:`Param` declares one execution-input parameter. The pipeline merges the
declared defaults into the execution input and type-checks every parameter in the
state machine before the first job starts (:mod:`constructs_sm.param_checks` renders
those checks); a bad input fails with the error ``InvalidParameters`` and a cause that
names the parameter.

Everything here is pure Python: no CDK object is created, so it is tested without a
Stack.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from constructs_sm import runtime as _rt

ParamType = Literal["string", "integer", "number", "boolean", "string_list"]
ParamValue = str | int | float | bool
#: A parameter's value: a scalar, or a list of strings (``Param.string_list``).
ParamInput = ParamValue | tuple[str, ...]

#: The error every failed execution-input check ends the execution with.
INVALID_PARAMETERS: Final = "InvalidParameters"

#: Parameter names double as JSON keys, Python attribute names and JSONPath segments.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
#: Parameters live under these keys of the state; a parameter may not shadow the runtime's API.
_RESERVED_NAMES: Final = frozenset({"as_dict", "get", "items", "keys", "values"})
_STRING_MAX: Final = _rt.MAX_STRING
_INT_LIMIT: Final = _rt.MAX_SAFE_INTEGER  # beyond, JSON numbers lose integer precision
#: The largest finite double: a number beyond it (``1e400``) is Infinity to Step Functions.
_DOUBLE_MAX: Final = sys.float_info.max
#: A string list holds at most this many items: the state machine checks each item's type
#: by its index (one Choice rule per possible item). Fan out over more items as objects
#: under a step's output (``for_each=step.output(...)``, read by a Distributed Map).
MAX_LIST_ITEMS: Final = 100
#: A list item is at most this long by default: it usually becomes an environment value
#: or a container argument, which SageMaker limits to 256 characters.
_ITEM_MAX = 256
#: States.Base64Decode takes at most 10,000 characters.
_MAX_BASE64 = 10_000


def _type_label(type_name: ParamType) -> str:
    return {
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "string_list": "a list of strings",
    }.get(type_name, "a boolean")


def _matches_type(value: object, type_name: ParamType) -> bool:
    if type_name == "string_list":
        return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if type_name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return isinstance(value, int)
    if isinstance(value, int):  # compared exactly: math.isfinite(10**400) overflows
        return -_DOUBLE_MAX <= value <= _DOUBLE_MAX
    return isinstance(value, float) and math.isfinite(value)


@dataclass(frozen=True)
class Param:
    """One typed execution-input parameter of a pipeline.

    Create it with :meth:`string`, :meth:`integer`, :meth:`number`, :meth:`boolean` or
    :meth:`string_list`. A parameter without a default is required: an execution whose
    input lacks it fails with ``InvalidParameters`` before any job starts.
    """

    name: str
    type: ParamType
    default: ParamInput | None = None
    choices: tuple[ParamValue, ...] | None = None
    pattern: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    description: str = ""
    max_length: int | None = None
    max_items: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.default, list):
            object.__setattr__(self, "default", tuple(self.default))
        problems = self._validate()
        if problems:
            raise (TypeError if any(p.startswith("!") for p in problems) else ValueError)(
                f"Param {self.name!r}: " + "; ".join(p.lstrip("!") for p in problems)
            )
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))

    # -- factories -----------------------------------------------------------------
    @classmethod
    def string(
        cls,
        name: str,
        *,
        default: str | None = None,
        choices: Sequence[str] | None = None,
        pattern: str | None = None,
        max_length: int | None = None,
        description: str = "",
    ) -> Param:
        """A string parameter; ``pattern`` is a Python regular expression (``re.search``).

        Values are at most 1024 characters, or ``max_length``. A string parameter used as
        an environment value needs ``max_length`` <= 256 (or ``choices``): SageMaker
        rejects longer environment values when it creates the job.
        """
        return cls(
            name,
            "string",
            default,
            choices,  # type: ignore[arg-type]  # validated, then made a tuple
            pattern,
            description=description,
            max_length=max_length,
        )

    @classmethod
    def integer(
        cls,
        name: str,
        *,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
        choices: Sequence[int] | None = None,
        description: str = "",
    ) -> Param:
        """An integer parameter; the container receives an ``int``."""
        return cls._numeric(name, "integer", default, minimum, maximum, choices, description)

    @classmethod
    def number(
        cls,
        name: str,
        *,
        default: float | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        choices: Sequence[float] | None = None,
        description: str = "",
    ) -> Param:
        """A number parameter; the container receives a ``float``."""
        return cls._numeric(name, "number", default, minimum, maximum, choices, description)

    @classmethod
    def _numeric(
        cls,
        name: str,
        type_name: ParamType,
        default: float | None,
        minimum: float | None,
        maximum: float | None,
        choices: Sequence[float] | None,
        description: str,
    ) -> Param:
        return cls(
            name,
            type_name,
            default,
            choices,  # type: ignore[arg-type]  # validated, then made a tuple
            None,
            minimum,
            maximum,
            description,
        )

    @classmethod
    def boolean(cls, name: str, *, default: bool | None = None, description: str = "") -> Param:
        """A boolean parameter; the container receives a ``bool``."""
        return cls(name, "boolean", default, description=description)

    @classmethod
    def string_list(
        cls,
        name: str,
        *,
        default: Sequence[str] | None = None,
        max_items: int = MAX_LIST_ITEMS,
        max_length: int = _ITEM_MAX,
        description: str = "",
    ) -> Param:
        """A list of at most ``max_items`` strings (at most 100), each at most
        ``max_length`` characters (256 by default): the items a ``for_each`` step fans out
        over (``add_step(..., for_each=pipeline.param(name))``). The state machine checks
        that the value is a list of strings of at most ``max_items`` items; the container
        receives a ``list[str]``.
        """
        return cls(
            name,
            "string_list",
            tuple(default) if default is not None and not isinstance(default, str) else default,
            description=description,
            max_length=max_length,
            max_items=max_items,
        )

    # -- validation ----------------------------------------------------------------
    def _validate(self) -> list[str]:
        # Problems prefixed with "!" are type errors; the rest are value errors.
        problems: list[str] = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            problems.append(
                f"name must match {_NAME.pattern} (a letter, then letters, digits or _), "
                f"got {self.name!r}"
            )
        elif self.name in _RESERVED_NAMES:
            problems.append(
                f"name {self.name!r} is reserved by the runtime's Params API; "
                f"reserved: {', '.join(sorted(_RESERVED_NAMES))}"
            )
        if not isinstance(self.description, str):
            problems.append(
                f"!description must be a str, got {self.description!r} "
                f"({type(self.description).__name__})"
            )
        if not isinstance(self.type, str) or self.type not in _rt.TYPES:
            return [
                f"type must be string, integer, number, boolean or string_list, got {self.type!r}"
            ]
        if self.type == "string_list":
            return problems + self._validate_list()
        if self.default is not None and not _matches_type(self.default, self.type):
            problems.append(
                f"!default must be {_type_label(self.type)}, got {self.default!r} "
                f"({type(self.default).__name__})"
            )
        if self.type == "string":
            if self.minimum is not None or self.maximum is not None:
                problems.append("minimum/maximum apply to integer and number parameters only")
            problems += self._validate_pattern()
            if self.max_length is not None and (
                isinstance(self.max_length, bool)
                or not isinstance(self.max_length, int)
                or not 1 <= self.max_length <= _STRING_MAX
            ):
                problems.append(
                    f"max_length must be an int between 1 and {_STRING_MAX}, "
                    f"got {self.max_length!r}"
                )
        elif self.max_length is not None:
            problems.append("max_length applies to string parameters only")
        elif self.pattern is not None:
            problems.append("pattern applies to string parameters only")
        if self.type in ("integer", "number"):
            problems += self._validate_range()
        if self.choices is not None:
            problems += self._validate_choices()
        if not problems and self.default is not None:
            problem = self.check(self.default)
            if problem:
                problems.append(f"default {problem}")
        if not problems and self.choices is not None:
            problems += [f"choice {problem}" for c in self.choices if (problem := self.check(c))]
        return problems

    def _validate_list(self) -> list[str]:
        problems = []
        if self.default is not None and not _matches_type(self.default, "string_list"):
            problems.append(f"!default must be a list of strings, got {self.default!r}")
        for label, value, high in (
            ("max_items", self.max_items, MAX_LIST_ITEMS),
            ("max_length", self.max_length, _STRING_MAX),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                problems.append(f"{label} must be an int between 1 and {high}, got {value!r}")
        if any(v is not None for v in (self.choices, self.pattern, self.minimum, self.maximum)):
            problems.append("choices, pattern, minimum and maximum do not apply to string lists")
        if not problems and self.default is not None:
            problem = self.check(self.default)
            if problem:
                problems.append(f"default {problem}")
        return problems

    def _validate_pattern(self) -> list[str]:
        if self.pattern is None:
            return []
        if not isinstance(self.pattern, str):
            return [f"!pattern must be a str, got {type(self.pattern).__name__}"]
        try:
            re.compile(self.pattern)
        except re.error as err:
            return [f"pattern {self.pattern!r} is not a valid regular expression: {err}"]
        return []

    def _validate_range(self) -> list[str]:
        problems = []
        for label, bound in (("minimum", self.minimum), ("maximum", self.maximum)):
            if bound is not None and not _matches_type(bound, self.type):
                problems.append(
                    f"!{label} must be {_type_label(self.type)}, got {bound!r} "
                    f"({type(bound).__name__})"
                )
        if problems:
            return problems
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            problems.append(
                f"minimum must not exceed maximum, got minimum={self.minimum!r} "
                f"maximum={self.maximum!r}"
            )
        return problems

    def _validate_choices(self) -> list[str]:
        if self.type == "boolean":
            return ["choices do not apply to boolean parameters"]
        if isinstance(self.choices, str | bytes) or not isinstance(self.choices, Iterable):
            return [f"!choices must be a list of {self.type}s, got {self.choices!r}"]
        choices = tuple(self.choices)
        object.__setattr__(self, "choices", choices)  # a generator is read once
        if not choices:
            return ["choices must not be empty"]
        wrong = [c for c in choices if not _matches_type(c, self.type)]
        if wrong:
            return [f"!choices must all be {self.type}s, got {wrong!r}"]
        if len(set(choices)) != len(choices):
            return [f"choices must be unique, got {list(choices)!r}"]
        limit = self.max_length if isinstance(self.max_length, int) else _STRING_MAX
        longer = [c for c in choices if isinstance(c, str) and len(c) > limit]
        if longer:
            return [f"choices must be at most {limit} characters (max_length), got {longer!r}"]
        return []

    # -- behaviour -----------------------------------------------------------------
    @property
    def longest(self) -> int:
        """The longest string value accepted (``max_length``, else 1024)."""
        if self.choices is not None:
            return max(len(str(c)) for c in self.choices)
        return self.max_length if isinstance(self.max_length, int) else _STRING_MAX

    @property
    def required(self) -> bool:
        """True when the parameter has no default and must be in the execution input."""
        return self.default is None

    def check(self, value: object) -> str | None:
        """Return why ``value`` is not acceptable for this parameter, or None if it is."""
        if not _matches_type(value, self.type):
            return f"must be {self.describe()}, got {value!r}"
        if self.type == "string_list":
            assert isinstance(value, list | tuple)
            if self.max_items is not None and len(value) > self.max_items:
                return f"must have at most {self.max_items} items, got {len(value)}"
            long = [item for item in value if len(item) > self.longest]
            if long:
                return f"items must be at most {self.longest} characters, got {long[0]!r}"
            return None
        if isinstance(value, str):
            if len(value) > self.longest:
                return f"must be at most {self.longest} characters, got {len(value)}"
            if "\x00" in value:  # no environment variable or argument can hold it
                return f"must not contain the NUL character (\\x00), got {value!r}"
            if self.pattern is not None and not re.search(self.pattern, value):
                return f"must match {self.pattern!r}, got {value!r}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.type == "integer" and isinstance(value, int) and abs(value) > _INT_LIMIT:
                return f"must be between -2**53 and 2**53, got {value!r}"
            if self.minimum is not None and value < self.minimum:
                return f"must be >= {self.minimum!r}, got {value!r}"
            if self.maximum is not None and value > self.maximum:
                return f"must be <= {self.maximum!r}, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {list(self.choices)!r}, got {value!r}"
        return None

    def describe(self) -> str:
        """A human description of what the parameter accepts, used in error causes."""
        text = _type_label(self.type)
        if self.type == "string_list":
            return f"a list of at most {self.max_items} strings of at most {self.longest} chars"
        if self.choices is not None:
            text += " in " + ", ".join(json.dumps(c) for c in self.choices)
        if self.pattern is not None:
            text += f" matching {self.pattern}"
        if self.max_length is not None:
            text += f" of at most {self.max_length} characters"
        if self.minimum is not None and self.maximum is not None:
            text += f" between {self.minimum} and {self.maximum}"
        elif self.minimum is not None:
            text += f" >= {self.minimum}"
        elif self.maximum is not None:
            text += f" <= {self.maximum}"
        return text

    def spec(self) -> dict[str, Any]:
        """The parameter's entry in the step spec the container runtime reads."""
        return {
            "type": self.type,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices) if self.choices is not None else None,
            "pattern": self.pattern,
            "max_length": self.max_length,
            "max_items": self.max_items,
        }


@dataclass(frozen=True)
class ParamRef:
    """A reference to a pipeline parameter's value at run time (``pipeline.param(name)``).

    Usable as a step's input (a string parameter holding an S3 URI), as an environment
    value (converted to a string by the state machine) or as a container argument.
    """

    param: Param

    @property
    def name(self) -> str:
        """The parameter's name."""
        return self.param.name

    @property
    def type(self) -> ParamType:
        """The parameter's declared type."""
        return self.param.type

    @property
    def json_path(self) -> str:
        """Where the validated value lives in the state machine's state."""
        return f"$.params.{self.param.name}"


def validate_params(params: Sequence[Param]) -> dict[str, Param]:
    """Check a pipeline's parameter list and index it by name."""
    problems = []
    for index, param in enumerate(params):
        if not isinstance(param, Param):
            raise TypeError(
                f"params[{index}] must be a Param (Param.string/integer/number/boolean), "
                f"got {param!r}"
            )
    names = [p.name for p in params]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"params has duplicate names: {', '.join(duplicates)}")
    if problems:
        raise ValueError("; ".join(problems))
    return {p.name: p for p in params}
