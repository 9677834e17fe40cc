"""SageMaker's rules for channel paths beyond the API model's shapes, as the offline engine
applies them to every CreateProcessingJob request (constructs_sm.service_model)."""

from __future__ import annotations

from typing import Any

from constructs_sm.service_model import processing_path_problems, request_problems


def _request(inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "ProcessingJobName": "job",
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "AppSpecification": {"ImageUri": "image"},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 1,
            }
        },
        "ProcessingInputs": [
            {
                "InputName": name,
                "S3Input": {
                    "S3Uri": "s3://b/k/",
                    "LocalPath": path,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
            for name, path in inputs
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": name,
                    "S3Output": {
                        "S3Uri": "s3://b/o/",
                        "LocalPath": path,
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for name, path in outputs
            ]
        },
    }


def test_nested_paths_are_accepted_as_sagemaker_accepts_them() -> None:
    """ScriptProcessor itself puts its code channel inside /opt/ml/processing/input."""
    request = _request(
        [("input", "/opt/ml/processing/input"), ("code", "/opt/ml/processing/input/code")],
        [("out", "/opt/ml/processing/output")],
    )
    assert processing_path_problems(request) == []
    assert request_problems("CreateProcessingJob", request) == []


def test_paths_outside_processing_and_shared_paths_are_refused() -> None:
    request = _request(
        [("a", "/opt/ml/processing/in"), ("b", "/opt/ml/processing/in/"), ("c", "/data")],
        [("o", "/opt/ml/processing/in"), ("p", "/opt/ml/model")],
    )
    assert processing_path_problems(request) == [
        "LocalPath '/data' of input 'c' must begin with /opt/ml/processing/",
        "LocalPath '/opt/ml/model' of output 'p' must begin with /opt/ml/processing/",
        "Inputs 'a' and 'b' have the same LocalPath '/opt/ml/processing/in/'",
        "Output 'o' has the LocalPath '/opt/ml/processing/in' of input 'a': inputs and "
        "outputs need different paths",
    ]
    assert len(request_problems("CreateProcessingJob", request)) == 4
