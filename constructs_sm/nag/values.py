"""Reading CloudFormation and Amazon States Language values as the rules see them.

A value may be one item or a list (:func:`as_list`), a field may be set at run time
(``Key.$`` or a JSONata ``{% ... %}``: :func:`is_dynamic`, :func:`static`), a boolean may
be a string (:func:`truthy`), and pseudo parameters are written as references
(:func:`normalise_pseudo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

#: Pseudo parameters as :func:`normalise_pseudo` writes them.
_PSEUDO = {
    "<AWS::Partition>": "aws",
    "<AWS::URLSuffix>": "amazonaws.com",
    "<AWS::Region>": "<AWS-Region>",
    "<AWS::AccountId>": "<AWS-AccountId>",
}


def normalise_pseudo(text: str) -> str:
    """``<AWS::Partition>`` becomes ``aws``, ``<AWS::URLSuffix>`` ``amazonaws.com``; the
    region and account lose their ``::`` (so ARNs split on ``:`` as usual)."""
    for pseudo, value in _PSEUDO.items():
        text = text.replace(pseudo, value)
    return text


def is_dynamic(mapping: Mapping[str, Any], key: str) -> bool:
    """True if ``key`` is set at run time: ``key.$`` (JSONPath) or a JSONata expression."""
    value = mapping.get(key)
    jsonata = isinstance(value, str) and value.strip().startswith("{%")
    return f"{key}.$" in mapping or jsonata


def static(mapping: Any, *keys: str) -> Any:
    """The value at ``keys`` when every level is a static (non ``.$``) field, else None."""
    value = mapping
    for key in keys:
        if not isinstance(value, dict) or is_dynamic(value, key):
            return None
        value = value.get(key)
    return value


def is_static_int(value: Any) -> TypeGuard[int]:
    """True for an integer (a bool is not one); a reference or a string is not."""
    return isinstance(value, int) and not isinstance(value, bool)


def truthy(value: Any) -> bool:
    """True for ``true`` as CloudFormation writes it: a bool or the string (any case)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def as_list(value: Any) -> list[Any]:
    """A value that may be one item or a list, as a list (``[]`` for None)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
