"""GetExecutionHistory in pages, as AWS Step Functions serves it.

moto 5.2.5 ignores ``maxResults``, ``nextToken`` and ``reverseOrder``: every call returns
the whole history, oldest first. AWS returns at most ``maxResults`` events per call
(default 100 when it is absent or 0, at most 1000), newest first with ``reverseOrder``,
and a ``nextToken`` when more remain; a token that does not belong to the request is an
HTTP 400 ``InvalidToken`` (GetExecutionHistory in the Step Functions API reference, as
the AWS SDKs document it:
https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/Package/-aws-sdk-client-sfn/Interface/GetExecutionHistoryCommandInput).

:func:`install` wraps moto's response handler so that it pages the same way. Besides
being AWS's behaviour (a caller that reads one page sees one page), it lets a watcher read
only what is new: ``reverseOrder`` pages from the newest event back to the last one it
saw (:func:`constructs_sm.local.runner.watch`), where a whole history, serialized again at
every poll, made following a long execution cost more the longer it ran.

A token names the last event of its page (events have increasing ids), so a history that
grows between two calls neither repeats nor skips an event. Tokens do not expire.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
from collections.abc import Callable
from typing import Any, Final

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.exceptions import InvalidToken, ValidationException

from constructs_sm.local.extra import require_unmoved

#: GetExecutionHistory's page size when ``maxResults`` is absent or 0, and its maximum.
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
_HANDLER: Final = "get_execution_history"
_original: Callable[[Any], Any] | None = None


def encode_token(arn: str, reverse: bool, last_id: int) -> str:
    """An opaque token: the page after event ``last_id`` of ``arn``, in that order."""
    document = json.dumps({"arn": arn, "reverse": reverse, "after": last_id})
    return base64.urlsafe_b64encode(document.encode()).decode()


def decode_token(token: str, arn: str, reverse: bool) -> int:
    """The event id a token continues after; :class:`InvalidToken` for a token of another
    execution, of the other order, or no token at all."""
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = document["after"]
        same = document["arn"] == arn and document["reverse"] is reverse
    except (ValueError, TypeError, KeyError, binascii.Error) as error:
        raise InvalidToken(f"{token!r} is not a token of GetExecutionHistory") from error
    if not same or not isinstance(after, int):
        raise InvalidToken("the token belongs to another request (keep all other arguments)")
    return after


def page(
    events: list[dict[str, Any]],
    *,
    arn: str,
    max_results: int | None,
    reverse: bool,
    token: str | None,
) -> dict[str, Any]:
    """One page of ``events`` (oldest first, as moto keeps them): ``{"events", "nextToken"?}``."""
    size = max_results or DEFAULT_PAGE
    if not 0 < size <= MAX_PAGE:
        raise ValidationException(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to "
            f"satisfy constraint: Member must have value less than or equal to {MAX_PAGE}"
        )
    ordered = list(reversed(events)) if reverse else list(events)
    if token is not None:
        after = decode_token(token, arn, reverse)
        ordered = [e for e in ordered if (e["id"] < after if reverse else e["id"] > after)]
    result: dict[str, Any] = {"events": ordered[:size]}
    if len(ordered) > size:
        result["nextToken"] = encode_token(arn, reverse, int(ordered[size - 1]["id"]))
    return result


def get_execution_history(self: Any) -> Any:
    """moto's handler, with the events of one page only (see the module docstring)."""
    assert _original is not None
    response = _original(self)
    history = getattr(response, "result", None)
    if not isinstance(history, dict) or not isinstance(history.get("events"), list):
        return response
    max_results = self._get_param("maxResults")
    paged = page(
        history["events"],
        arn=str(self._get_param("executionArn")),
        max_results=int(max_results) if max_results is not None else None,
        reverse=bool(self._get_param("reverseOrder")),
        token=self._get_param("nextToken"),
    )
    return ActionResult(
        {key: value for key, value in history.items() if key != "nextToken"} | paged
    )


def check_integration_points() -> None:
    """Fail loudly if moto's handler moved or no longer returns its result as it did."""
    handler = _original or getattr(sfn_responses.StepFunctionResponse, _HANDLER, None)
    problems = []
    if handler is None or list(inspect.signature(handler).parameters) != ["self"]:
        problems.append(f"StepFunctionResponse.{_HANDLER}")
    elif "ActionResult(" not in inspect.getsource(handler):
        problems.append(f"StepFunctionResponse.{_HANDLER} no longer returns an ActionResult")
    require_unmoved(problems, "its Step Functions responses changed")


def install() -> None:
    """Page GetExecutionHistory (idempotent)."""
    global _original
    check_integration_points()
    if _original is not None:
        return
    _original = getattr(sfn_responses.StepFunctionResponse, _HANDLER)
    setattr(sfn_responses.StepFunctionResponse, _HANDLER, get_execution_history)


def uninstall() -> None:
    """Undo :func:`install`."""
    global _original
    if _original is None:
        return
    setattr(sfn_responses.StepFunctionResponse, _HANDLER, _original)
    _original = None
