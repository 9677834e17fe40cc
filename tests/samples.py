"""Sample job settings shared by the pure rendering tests (no Stack needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from constructs_sm.job import JobSettings
from constructs_sm.model import OutputRef, Resources, StepInput
from constructs_sm.params import Param, ParamRef
from constructs_sm.step import ProcessingStep


def fake_step(name: str) -> ProcessingStep:
    return cast(ProcessingStep, SimpleNamespace(step_name=name))


def sample_settings(**overrides: Any) -> JobSettings:
    values: dict[str, Any] = {
        "pipeline": "Churn",
        "step": "train",
        "job_prefix": "churn-train-0123abcd",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:1",
        "role_arn": "arn:aws:iam::123456789012:role/step",
        "code_uri": "s3://assets/abc.zip",
        "script": "train.py",
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "resources": Resources(),
        "inputs": {"train": StepInput(OutputRef(fake_step("prepare"), "train"))},
        "outputs": ["model"],
        "environment": {"EPOCHS": ParamRef(Param.integer("epochs", default=1)), "MODE": "fast"},
        "returns": {"loss": "number"},
    }
    values.update(overrides)
    return JobSettings(**values)
