"""What the property tests share: Hypothesis strategies for names AWS accepts, and
Step Functions' (Java's) way of printing numbers.

Names (execution, state machine): 1-80 characters, none of them white space, brackets
``< > { } [ ]``, wildcards ``? *``, the special characters ``" # % \\ ^ | ~ ` $ & , ; : /``,
control characters (U+0000-001F, U+007F-009F, U+FFFE-FFFF), surrogates or U+10FFFF
(the StartExecution API reference, ``name``; botocore's ``stepfunctions`` model says the
same, with ``min 1, max 80``).
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st

from constructs_sm.model import CHANNEL_NAME, STEP_NAME
from constructs_sm.validation import PIPELINE_NAME

#: Characters a Step Functions name may not hold besides white space and control characters.
NAME_SPECIALS: Final = ' <>{}[]?*"#%\\^|~`$&,;:/'
#: Category Z (white space) and Cc (control characters); Cs: surrogates.
_EXCLUDED_CATEGORIES: Final = ("Cc", "Cs", "Zs", "Zl", "Zp")
_EXCLUDED: Final = NAME_SPECIALS + "\ufffe\uffff\U0010ffff"

#: A character allowed in an execution or state machine name.
name_characters = st.characters(
    exclude_categories=_EXCLUDED_CATEGORIES, exclude_characters=_EXCLUDED
).filter(lambda char: not char.isspace())
#: Any valid execution (or state machine) name, mostly short and readable, sometimes not.
execution_names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True),
    st.text(name_characters, min_size=1, max_size=80),
)
pipeline_names = st.from_regex(PIPELINE_NAME.pattern.rstrip("$") + r"\Z")
step_names = st.from_regex(STEP_NAME.pattern.rstrip("$") + r"\Z")
channel_names = st.from_regex(CHANNEL_NAME.pattern.rstrip("$") + r"\Z")
#: The time a state was entered, as the context object shows it (ISO 8601, milliseconds).
entered_times = st.datetimes(
    min_value=datetime.datetime(2020, 1, 1), max_value=datetime.datetime(2100, 1, 1)
).map(lambda t: t.isoformat(timespec="milliseconds") + "Z")
#: ``$$.State.RetryCount``: a Retrier's MaxAttempts is at most 99,999,999.
retry_counts = st.integers(min_value=0, max_value=99_999_999)


def java_double(value: float, *, digits: int | None = None) -> str:
    """A double as Java's ``Double.toString`` prints it: ``0.01``, ``5.0``, ``1.0E-4``,
    ``1.0E7``, ``-2.5E300`` (decimal notation from 10^-3 up to 10^7, else a mantissa with
    at least one fraction digit and an unsigned-unless-negative exponent).

    The digits are Python's ``repr`` (the shortest decimal that reads back as the same
    double). Java 19 and later print the same ones, or a second digit closer to the value
    where ``repr`` needs one digit only (``4.9E-324``); older JVMs sometimes print more:
    ``digits`` forces that many significant digits. Every such text reads back as the
    same double, which is what the round trips rely on.
    """
    if not math.isfinite(value):
        raise ValueError(f"Java prints no JSON number for {value!r}")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(value) if digits is None else f"{value:.{digits - 1}e}"
    sign, mantissa, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)
    significant = "".join(map(str, mantissa)).rstrip("0") or "0"
    # the value is 0.<significant> * 10**power
    power = exponent + len(mantissa)
    minus = "-" if sign else ""
    if -3 < power <= 7:  # 10^-3 <= |value| < 10^7
        if power <= 0:
            return f"{minus}0.{'0' * -power}{significant}"
        whole = significant[:power].ljust(power, "0")
        return f"{minus}{whole}.{significant[power:] or '0'}"
    return f"{minus}{significant[0]}.{significant[1:] or '0'}E{power - 1}"


def java_json(value: Any) -> str:
    """JSON as Step Functions writes it (``States.JsonToString``; Jackson): no spaces,
    doubles printed by Java, non-ASCII characters as they are, control characters escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, str):
        escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        escapes.update({"\b": "\\b", "\f": "\\f"})
        return (
            '"'
            + "".join(escapes.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in value)
            + '"'
        )
    if isinstance(value, dict):
        return "{" + ",".join(f"{java_json(k)}:{java_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(java_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {value!r}")
