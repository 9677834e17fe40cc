"""constructs_sm: typed, secure SageMaker Processing pipelines run by AWS Step Functions.

CDK constructs (``ChannelBucket``, ``ProcessingImage``, ``ProcessingPipeline``) and
their settings (``Param``, ``Resources``, ``StepInput``, ``StepOutput``, ``DataSource``), plus the
container-side ``constructs_sm.runtime`` (standard library only).

The construct names are imported lazily, so ``from constructs_sm import runtime`` works
in a container that has no aws-cdk-lib installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_sm.image import ProcessingImage
    from constructs_sm.model import (
        DataSource,
        OutputRef,
        Resources,
        StepInput,
        StepOutput,
        ValueRef,
    )
    from constructs_sm.params import Param, ParamRef
    from constructs_sm.pipeline import ProcessingPipeline
    from constructs_sm.step import ProcessingStep
    from constructs_sm.storage import ChannelBucket

__all__ = [
    "ChannelBucket",
    "DataSource",
    "OutputRef",
    "Param",
    "ParamRef",
    "ProcessingImage",
    "ProcessingPipeline",
    "ProcessingStep",
    "Resources",
    "StepInput",
    "StepOutput",
    "ValueRef",
]

_HOMES = {
    "ChannelBucket": "constructs_sm.storage",
    "DataSource": "constructs_sm.model",
    "OutputRef": "constructs_sm.model",
    "Param": "constructs_sm.params",
    "ParamRef": "constructs_sm.params",
    "ProcessingImage": "constructs_sm.image",
    "ProcessingPipeline": "constructs_sm.pipeline",
    "ProcessingStep": "constructs_sm.step",
    "Resources": "constructs_sm.model",
    "StepInput": "constructs_sm.model",
    "StepOutput": "constructs_sm.model",
    "ValueRef": "constructs_sm.model",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'constructs_sm' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
