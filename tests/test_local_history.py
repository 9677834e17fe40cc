"""GetExecutionHistory in pages as AWS serves them (constructs_sm.local.history_fixes)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from moto.stepfunctions.exceptions import InvalidToken, ValidationException
from moto.stepfunctions.responses import StepFunctionResponse

from constructs_sm.local import history_fixes
from constructs_sm.local.runner import RunResult
from tests.local_deployment import Deployed, run

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"


def _events(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "type": "PassStateEntered"} for i in range(1, count + 1)]


def _ids(document: dict[str, Any]) -> list[int]:
    return [int(e["id"]) for e in document["events"]]


def _all(events: list[dict[str, Any]], size: int | None, reverse: bool) -> list[int]:
    ids: list[int] = []
    token = None
    while True:
        document = history_fixes.page(
            events, arn=ARN, max_results=size, reverse=reverse, token=token
        )
        ids += _ids(document)
        token = document.get("nextToken")
        if token is None:
            return ids


def test_moto_alone_ignores_the_paging_arguments() -> None:
    """If moto starts paging itself, this fails and history_fixes can go."""
    history_fixes.check_integration_points()
    original = history_fixes._original or StepFunctionResponse.get_execution_history
    source = inspect.getsource(original)
    assert "maxResults" not in source
    assert "reverseOrder" not in source


@pytest.mark.parametrize(("size", "expected"), [(None, 100), (0, 100), (7, 7), (1000, 1000)])
def test_a_page_holds_max_results_events_100_by_default(size: int | None, expected: int) -> None:
    document = history_fixes.page(
        _events(1500), arn=ARN, max_results=size, reverse=False, token=None
    )
    assert _ids(document) == list(range(1, expected + 1))
    assert "nextToken" in document


def test_more_than_1000_per_page_is_refused() -> None:
    with pytest.raises(ValidationException, match="less than or equal to 1000"):
        history_fixes.page(_events(3), arn=ARN, max_results=1001, reverse=False, token=None)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("size", [1, 3, 100])
def test_pages_hold_every_event_once_in_order(size: int, reverse: bool) -> None:
    expected = list(range(1, 11))
    assert _all(_events(10), size, reverse) == (expected[::-1] if reverse else expected)


def test_the_last_page_has_no_token() -> None:
    document = history_fixes.page(_events(3), arn=ARN, max_results=3, reverse=False, token=None)
    assert _ids(document) == [1, 2, 3]
    assert "nextToken" not in document


def test_events_added_between_pages_are_neither_repeated_nor_skipped() -> None:
    first = history_fixes.page(_events(5), arn=ARN, max_results=2, reverse=False, token=None)
    rest = history_fixes.page(
        _events(8), arn=ARN, max_results=100, reverse=False, token=first["nextToken"]
    )
    assert _ids(first) + _ids(rest) == list(range(1, 9))
    newest = history_fixes.page(_events(5), arn=ARN, max_results=2, reverse=True, token=None)
    older = history_fixes.page(
        _events(8), arn=ARN, max_results=100, reverse=True, token=newest["nextToken"]
    )
    assert _ids(newest) + _ids(older) == [5, 4, 3, 2, 1]


def test_a_token_of_another_request_is_an_invalid_token() -> None:
    token = history_fixes.page(_events(5), arn=ARN, max_results=2, reverse=False, token=None)[
        "nextToken"
    ]
    for arn, reverse, bad in (
        (ARN + "x", False, token),  # another execution
        (ARN, True, token),  # the other order
        (ARN, False, "not-a-token"),
    ):
        with pytest.raises(InvalidToken):
            history_fixes.page(_events(5), arn=arn, max_results=2, reverse=reverse, token=bad)


@pytest.fixture(scope="module")
def execution(deployed: Deployed) -> RunResult:
    """One execution of the example pipeline (about 40 history events)."""
    bucket = deployed.pipelines["Churn"].bucket
    result = run(deployed, "Churn", {"raw_uri": f"s3://{bucket}/data/raw/", "epochs": 2})
    assert result.succeeded, result.cause
    return result


def test_the_emulator_pages_a_real_history(deployed: Deployed, execution: RunResult) -> None:
    sfn = deployed.emulator.client("stepfunctions")
    arn = execution.execution_arn
    whole = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert len(whole) > 10
    assert [e["id"] for e in whole] == list(range(1, len(whole) + 1))
    first = sfn.get_execution_history(executionArn=arn, maxResults=4)
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4]
    pages = sfn.get_paginator("get_execution_history")
    for reverse in (False, True):
        paged = [
            event
            for page in pages.paginate(
                executionArn=arn, reverseOrder=reverse, PaginationConfig={"PageSize": 4}
            )
            for event in page["events"]
        ]
        assert paged == (whole[::-1] if reverse else whole)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
