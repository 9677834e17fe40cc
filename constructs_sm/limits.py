"""The AWS service limits the library keeps for you, in one place (pure, no CDK).

Where is "at most 10 inputs", "a job name is 63 characters" or "which instance types
have local NVMe storage"? Here. The values come from the SageMaker API model (botocore's
``sagemaker`` service model) and the Step Functions and CloudFormation quotas pages; the
constructs, the definition renderer and the nag rules all read them from this module.
"""

from __future__ import annotations

import re
from typing import Final

#: ProcessingInputs and ProcessingOutputConfig.Outputs: at most 10 each.
MAX_CHANNELS: Final = 10
#: Environment: at most 100 entries, each value at most 256 characters.
MAX_ENV: Final = 100
MAX_ENV_VALUE: Final = 256
#: StoppingCondition.MaxRuntimeInSeconds: 1 to 777,600 (9 days).
MAX_RUNTIME_LIMIT: Final = 777_600
#: ProcessingJobName: 1-63 characters of this pattern, unique per account and region.
JOB_NAME: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
#: S3Uri of a processing input or output (at most 1024 characters).
S3_URI: Final = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")
#: ProcessingResources.ClusterConfig.InstanceType: ml.<family>.<size>.
INSTANCE_TYPE: Final = re.compile(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$")

#: Instance families with local NVMe instance storage: SageMaker encrypts it with a
#: hardware module and rejects a VolumeKmsKeyId for them.
_LOCAL_STORAGE_FAMILIES: Final = frozenset(
    {"g5", "g6", "g6e", "gr6", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n", "inf2"}
)


def has_local_storage(instance_type: object) -> bool:
    """True for instance types with local NVMe storage (no VolumeKmsKeyId allowed)."""
    match = INSTANCE_TYPE.match(instance_type) if isinstance(instance_type, str) else None
    if not match:
        return False
    family = match.group(1)
    # m5d, c5d, r5d, m6id, g4dn, p3dn, p4d ...: a "d" after the generation digit.
    return family in _LOCAL_STORAGE_FAMILIES or bool(re.match(r"^[a-z]+\d+[a-z]*d[a-z]?$", family))
