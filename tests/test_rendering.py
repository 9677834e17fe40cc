"""The test renderer itself (tests/rendering.py): what it evaluates and what it refuses."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.rendering import (
    REGION,
    EvaluationError,
    UnresolvableError,
    _java_number,
    evaluate,
    render,
    resolve_cfn,
)


def test_evaluator_renders_the_supported_subset() -> None:
    state = {"a": {"b": [1, {"c": "x"}]}, "n": 0.0001, "m": 50, "t": True}
    context = {"Execution": {"Name": "exec-1"}, "State": {"RetryCount": 2}}
    template = {
        "plain": "$.a",
        "path.$": "$.a.b[1].c",
        "context.$": "$$.Execution.Name",
        "format.$": r"States.Format('{} \{\} it\'s {} {} {} {}', $.a.b[1].c, $.n, $.m, $.t, 'q\'')",
        "hash.$": "States.Hash(States.Format('{}', $$.State.RetryCount), 'MD5')",
        "merge.$": "States.JsonMerge($.a, States.StringToJson('{\"d\": 1}'), false)",
        "array.$": "States.Array('p', States.JsonToString($.a), $.m)",
        "nested": [{"x.$": "$.t"}],
    }
    assert render(template, state, context) == {
        "plain": "$.a",
        "path": "x",
        "context": "exec-1",
        "format": "x {} it's 1.0E-4 50 true q'",
        "hash": hashlib.md5(b"2").hexdigest(),
        "merge": {"b": [1, {"c": "x"}], "d": 1},
        "array": ["p", '{"b":[1,{"c":"x"}]}', 50],
        "nested": [{"x": True}],
    }
    java = {0.5: "0.5", 10.0: "10.0", 0.001: "0.001", 1e7: "1.0E7", -1.25e-5: "-1.25E-5"}
    assert {value: _java_number(value) for value in java} == java


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("States.UUID()", "unknown intrinsic function"),
        ("States.MathAdd(1, 2)", "unknown intrinsic function"),
        ("$.missing", "no field 'missing'"),
        ("$$.Execution.Nope", "no field 'Nope'"),
        ("$.l[3]", "no item"),
        ("$..a", "unsupported JSONPath"),
        ("States.Format('{} {}', $.a)", "too few arguments"),
        ("States.Format('{}', $.a, $.a)", "2 arguments for 1"),
        ("States.Format('{', $.a)", "unescaped"),
        (r"States.Format('\n{}', $.a)", "unsupported escape"),
        ("States.Format('{}', $.o)", "cannot format"),
        ("States.Hash($.a, 'CRC32')", "unknown algorithm"),
        ("States.JsonMerge($.o, $.o, true)", "only shallow"),
        ("States.Format('x'", "expected ',' or ')'"),
        ("States.Array('x') tail", "trailing text"),
        ("literal", "neither a path nor an intrinsic"),
    ],
)
def test_evaluator_rejects_what_it_does_not_know(expression: str, problem: str) -> None:
    state = {"a": "x", "l": ["x"], "o": {"k": 1}}
    with pytest.raises(EvaluationError, match=re.escape(problem)):
        evaluate(expression, state, {"Execution": {}})


def test_resolver_rejects_unknown_references() -> None:
    resources = {"Topic": {"Type": "AWS::SNS::Topic"}}
    for value in (
        {"Ref": "Topic"},
        {"Ref": "Missing"},
        {"Fn::GetAtt": ["Topic", "TopicName"]},
        {"Fn::Sub": "${Unknown}"},
        {"Fn::ImportValue": "x"},
    ):
        with pytest.raises(UnresolvableError):
            resolve_cfn(resources, value)
    assert resolve_cfn(resources, {"Fn::Sub": "${AWS::Region}-${!Literal}"}) == (
        f"{REGION}-${{Literal}}"
    )
