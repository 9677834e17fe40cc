"""The AWS service limits the library keeps for you, in one place (pure, no CDK).

Where is "at most 10 inputs", "a job name is 63 characters" or "which instance types
have local NVMe storage"? Here. The values come from the SageMaker API model (botocore's
``sagemaker`` service model) and the Step Functions and CloudFormation quotas pages; the
constructs, the definition renderer and the nag rules all read them from this module.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final

#: ProcessingInputs and ProcessingOutputConfig.Outputs: at most 10 each.
MAX_CHANNELS: Final = 10
#: Environment: at most 100 entries, each value at most 256 characters.
MAX_ENV: Final = 100
MAX_ENV_VALUE: Final = 256
#: ContainerEntrypoint and ContainerArguments: 1-100 items of 1-256 characters each.
MAX_ARGUMENT: Final = 256
MAX_ARGUMENTS: Final = 100
#: VpcConfig: 1-16 subnets and 1-5 security groups.
MAX_SUBNETS: Final = 16
MAX_SECURITY_GROUPS: Final = 5
#: StoppingCondition.MaxRuntimeInSeconds: 1 to 777,600 (9 days).
MAX_RUNTIME_LIMIT: Final = 777_600
#: CreateStateMachine ``definition``: at most 1,048,576 characters (the Step Functions API
#: model's ``Definition`` shape; "Maximum size of state machine definition: 1 MB", a hard
#: quota, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
MAX_DEFINITION_CHARS: Final = 1_048_576
#: A Step Functions API request is at most 1 MB in all (the same quotas page): the
#: definition travels JSON-escaped inside it, next to the name, role and logging settings.
MAX_REQUEST_BYTES: Final = 1_048_576
#: CloudFormation: at most 500 resources and 1,000,000 bytes per template
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
MAX_STACK_RESOURCES: Final = 500
MAX_TEMPLATE_BYTES: Final = 1_000_000
#: ProcessingJobName: 1-63 characters of this pattern, unique per account and region.
JOB_NAME: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
#: S3Uri of a processing input or output (at most 1024 characters).
S3_URI: Final = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")
#: ProcessingResources.ClusterConfig.InstanceType: ml.<family>.<size>.
INSTANCE_TYPE: Final = re.compile(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$")

#: Instance families with local NVMe instance storage: SageMaker encrypts it with a
#: hardware module and rejects a VolumeKmsKeyId for them.
# In the ProcessingInstanceType enum, 51 types have NVMe instance storage, in the families
# g4dn, r5d (matched by the "d" rule below), g5, g6, g6e, g7, g7e and p5 (ml.p5.4xlarge);
# the rest are for families AWS may add to the enum (EC2's InstanceStorageInfo).
_LOCAL_STORAGE_FAMILIES: Final = frozenset(
    {"g5", "g6", "g6e", "g7", "g7e", "gr6", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n", "inf2"}
)


def has_local_storage(instance_type: object) -> bool:
    """True for instance types with local NVMe storage (no VolumeKmsKeyId allowed)."""
    match = INSTANCE_TYPE.match(instance_type) if isinstance(instance_type, str) else None
    if not match:
        return False
    family = match.group(1)
    # m5d, c5d, r5d, m6id, g4dn, p3dn, p4d ...: a "d" after the generation digit.
    return family in _LOCAL_STORAGE_FAMILIES or bool(re.match(r"^[a-z]+\d+[a-z]*d[a-z]?$", family))


def _from_model_cached(name: str, compute: Callable[[], Any]) -> Any:
    """A value read from botocore's SageMaker model, cached on disk per botocore version
    (loading the model costs about 0.2 s; a new botocore may change the value)."""
    cache = (
        Path(tempfile.gettempdir())
        / "constructs-sm-cache"
        / f"{name}-botocore-{metadata.version('botocore')}.json"
    )
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = cache.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(json.dumps(value))
        staging.replace(cache)
    except OSError:  # a read-only temporary directory: no cache, same answer
        pass
    return value


@functools.cache
def instance_types() -> frozenset[str]:
    """The ``ProcessingInstanceType`` enum of the installed botocore's SageMaker model."""

    def compute() -> list[str]:
        from constructs_sm.service_model import instance_types as from_model

        return sorted(from_model())

    return frozenset(_from_model_cached("instance-types", compute))


@functools.cache
def local_path_limits() -> tuple[int, str]:
    """``(max length, pattern)`` of a processing channel's ``LocalPath`` (the model's
    ``ProcessingLocalPath`` shape: 256 characters of ``.*`` in botocore 1.4x)."""

    def compute() -> list[Any]:
        from constructs_sm.service_model import local_path_shape

        return list(local_path_shape())

    length, pattern = _from_model_cached("local-path", compute)
    return int(length), str(pattern)


def instance_type_problem(instance_type: object) -> str | None:
    """Why ``instance_type`` is not a SageMaker Processing instance type, or None.

    The allowed values are the ``ProcessingInstanceType`` enum of the SageMaker API model
    that botocore ships (SageMaker rejects any other value when it creates the job).
    """
    known = instance_types()
    if isinstance(instance_type, str) and instance_type in known:
        return None
    close = difflib.get_close_matches(str(instance_type), sorted(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (
        "instance_type must be a SageMaker Processing instance type (the API's "
        f"ProcessingInstanceType, e.g. ml.m5.xlarge), got {instance_type!r}{hint}"
    )


#: Punctuation a tag key or value may hold besides letters, digits and spaces.
_TAG_PUNCTUATION: Final = frozenset("_.:/=+-@")


def is_tag_text(text: str) -> bool:
    """The API's tag pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``: Unicode letters,
    separators (spaces, not tabs or newlines) and numbers, plus ``_.:/=+-@``."""
    return all(unicodedata.category(char)[0] in "LZN" or char in _TAG_PUNCTUATION for char in text)


def template_size_problem(
    size: int, *, stack: str, pipelines: Sequence[tuple[str, int]]
) -> tuple[str, str] | None:
    """Why CloudFormation would refuse the ``size``-byte template of ``stack`` holding
    ``pipelines`` (name, steps), and the fix; None when it fits in
    :data:`MAX_TEMPLATE_BYTES`."""
    if size <= MAX_TEMPLATE_BYTES:
        return None
    held = ", ".join(
        f"{name!r} ({steps} step{'' if steps == 1 else 's'})" for name, steps in pipelines
    )
    description = (
        f"the template of stack {stack!r} is {size:,} bytes; CloudFormation accepts at most "
        f"{MAX_TEMPLATE_BYTES:,} bytes per template. Its pipelines: {held} (a step's role "
        "takes about 3 KB of template)"
    )
    fix = (
        "pass suppress_template_indentation=True to the stack (about half the bytes), or "
        "split the pipeline across two stacks, the second reading the first's outputs "
        "through a DataSource"
    )
    return description, fix
