"""Processing-job rules: the settings of each CreateProcessingJob request in a definition.

Network isolation, volume and output encryption with a KMS key, inter-container traffic
encryption for multi-instance jobs and a stopping condition, checked per processing task
(findings are per state, e.g. ``ProcessingPipeline-JobNetworkIsolation[Run-train]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from constructs_sm.limits import MAX_RUNTIME_LIMIT, has_local_storage
from constructs_sm.nag.rules.base import STATE_MACHINE, Rule, per_task
from constructs_sm.nag.values import is_static_int, static


def _job_network_isolation(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    if static(params, "NetworkConfig", "EnableNetworkIsolation") is not True:
        return "NetworkConfig.EnableNetworkIsolation is not true"
    return None


NETWORK_ISOLATION: Final = Rule(
    name="JobNetworkIsolation",
    resource_types=STATE_MACHINE,
    info="A processing job runs without network isolation.",
    explanation=(
        "An isolated container cannot reach the network: a compromised dependency cannot "
        "exfiltrate data."
    ),
    fix=(
        "Set NetworkConfig.EnableNetworkIsolation true (add_step(network_isolation=True)); "
        "opting out needs an acknowledgment of ProcessingPipeline-JobNetworkIsolation"
        "[<state>] with the reason."
    ),
    check=per_task(_job_network_isolation),
)


def _job_volume_key(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    cluster = static(params, "ProcessingResources", "ClusterConfig")
    if not isinstance(cluster, dict):
        return "ProcessingResources.ClusterConfig is not static"
    if has_local_storage(static(cluster, "InstanceType")):
        return None
    key = static(cluster, "VolumeKmsKeyId")
    return None if isinstance(key, str) and key else "ClusterConfig.VolumeKmsKeyId is not set"


VOLUME_ENCRYPTION: Final = Rule(
    name="JobVolumeEncryption",
    resource_types=STATE_MACHINE,
    info="A processing job's storage volume is not encrypted with a KMS key.",
    explanation="Data staged on the ML storage volume is encrypted with the customer key.",
    fix=(
        "With constructs_sm, give the channel storage a KMS key: "
        "ChannelBucket(..., encryption_key=key), also for a bucket you pass (every job's "
        "volume then uses it, except on instance types with local NVMe storage). In a "
        "hand-written job, set ProcessingResources.ClusterConfig.VolumeKmsKeyId."
    ),
    check=per_task(_job_volume_key),
)


def _job_output_key(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    if "ProcessingOutputConfig" not in params and "ProcessingOutputConfig.$" not in params:
        return None
    key = static(params, "ProcessingOutputConfig", "KmsKeyId")
    return None if isinstance(key, str) and key else "ProcessingOutputConfig.KmsKeyId is not set"


OUTPUT_ENCRYPTION: Final = Rule(
    name="JobOutputEncryption",
    resource_types=STATE_MACHINE,
    info="A processing job's outputs are not encrypted with a KMS key.",
    explanation="Outputs uploaded to S3 are encrypted with the customer key.",
    fix=(
        "With constructs_sm, give the channel storage a KMS key: "
        "ChannelBucket(..., encryption_key=key), also for a bucket you pass (every job's "
        "outputs then use it). In a hand-written job, set ProcessingOutputConfig.KmsKeyId."
    ),
    check=per_task(_job_output_key),
)


def _job_inter_container(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    count = static(params, "ProcessingResources", "ClusterConfig", "InstanceCount")
    if is_static_int(count) and count <= 1:
        return None
    if static(params, "NetworkConfig", "EnableInterContainerTrafficEncryption") is not True:
        return (
            f"InstanceCount is {count if is_static_int(count) else 'dynamic'} and "
            "NetworkConfig.EnableInterContainerTrafficEncryption is not true"
        )
    return None


INTER_CONTAINER_ENCRYPTION: Final = Rule(
    name="JobInterContainerEncryption",
    resource_types=STATE_MACHINE,
    info="A multi-instance processing job does not encrypt inter-container traffic.",
    explanation="Traffic between the instances of a distributed job is encrypted.",
    fix="Set NetworkConfig.EnableInterContainerTrafficEncryption true when InstanceCount > 1.",
    check=per_task(_job_inter_container),
)


def _job_max_runtime(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    runtime = static(params, "StoppingCondition", "MaxRuntimeInSeconds")
    if is_static_int(runtime) and 1 <= runtime <= MAX_RUNTIME_LIMIT:
        return None
    return f"StoppingCondition.MaxRuntimeInSeconds is not between 1 and {MAX_RUNTIME_LIMIT}"


MAX_RUNTIME: Final = Rule(
    name="JobMaxRuntime",
    resource_types=STATE_MACHINE,
    info="A processing job has no MaxRuntimeInSeconds.",
    explanation="A stopping condition bounds the cost and the blast radius of a stuck job.",
    fix="Set StoppingCondition.MaxRuntimeInSeconds (Resources(max_runtime_seconds=...)).",
    check=per_task(_job_max_runtime),
)
