"""Where a processing job's logs are, and how an execution's output tells you.

SageMaker writes a processing job's container output to the log group
``/aws/sagemaker/ProcessingJobs``, one stream per instance named
``<processing job name>/<host>-<epoch timestamp>`` (``algo-1-...``, ``algo-2-...``; AWS,
"Log Amazon SageMaker Events with Amazon CloudWatch",
https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html). Each step's
result in the state (``$.steps.<step>``) carries the job name, the log group and the
stream prefix ``<job name>/``, taken by the task's ``ResultSelector`` from the job's
description: no extra state, no extra transition. Pure: no CDK.
"""

from __future__ import annotations

from typing import Final

#: The log group of every SageMaker processing job.
PROCESSING_LOG_GROUP: Final = "/aws/sagemaker/ProcessingJobs"


def log_selector() -> dict[str, str]:
    """The ``ResultSelector`` fields that locate a job's log streams (the selector reads
    the job's DescribeProcessingJob response)."""
    return {
        "log_group": PROCESSING_LOG_GROUP,
        "log_stream_prefix.$": "States.Format('{}/', $.ProcessingJobName)",
    }
