"""The validation benchmark's template variant: only the step roles lose their policies."""

from __future__ import annotations

from typing import Any

from tests.benchmarks.bench_validation import without_channel_policies


def test_only_the_step_roles_inline_policies_are_removed() -> None:
    policies = [{"PolicyName": "Channels", "PolicyDocument": {"Statement": []}}]
    template: dict[str, Any] = {
        "Resources": {
            "Step": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Path": "/constructs-sm/p-1/", "Policies": policies, "X": 1},
            },
            "Machine": {"Type": "AWS::IAM::Role", "Properties": {"Policies": policies}},
            "Other": {"Type": "AWS::IAM::Policy", "Properties": {"Path": "/constructs-sm/"}},
        },
        "Outputs": {"O": {"Value": "v"}},
    }
    stripped = without_channel_policies(template)
    assert stripped["Resources"]["Step"]["Properties"] == {"Path": "/constructs-sm/p-1/", "X": 1}
    assert stripped["Resources"]["Machine"] == template["Resources"]["Machine"]
    assert stripped["Resources"]["Other"] == template["Resources"]["Other"]
    assert stripped["Outputs"] == template["Outputs"]
    assert template["Resources"]["Step"]["Properties"]["Policies"] == policies  # a copy
