"""Call S3 with this step's own credentials (its network isolation is off) and record
what each call answered: its own channels, a sibling step's channel, other locations.

Writes ``answers/answers.json``: ``{call: "allowed" | <S3 error code>}``.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.exceptions

from constructs_sm import runtime

config = runtime.job_config()
shared = next(i for i in config["ProcessingInputs"] if i["InputName"] == "shared")
answers_output = next(
    o for o in config["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "answers"
)
bucket, _, own_input = shared["S3Input"]["S3Uri"][len("s3://") :].partition("/")
own_output = answers_output["S3Output"]["S3Uri"].split("/", 3)[3].rstrip("/") + "/"
sibling = own_input.replace("/shared/", "/private/", 1)
s3 = boto3.client("s3")


def attempt(call: str, **kwargs: Any) -> str:
    try:
        getattr(s3, call)(**kwargs)
    except botocore.exceptions.ClientError as error:
        return str(error.response["Error"]["Code"])
    return "allowed"


answers = {
    "get own input": attempt("get_object", Bucket=bucket, Key=own_input + "note.txt"),
    "list own input": attempt("list_objects_v2", Bucket=bucket, Prefix=own_input),
    "put own output": attempt("put_object", Bucket=bucket, Key=own_output + "x.txt", Body=b"x"),
    "get sibling channel": attempt("get_object", Bucket=bucket, Key=sibling + "note.txt"),
    "list sibling channel": attempt("list_objects_v2", Bucket=bucket, Prefix=sibling),
    "put sibling channel": attempt("put_object", Bucket=bucket, Key=sibling + "x", Body=b"x"),
    "list whole bucket": attempt("list_objects_v2", Bucket=bucket),
}
for uri in str(runtime.params().foreign).split():
    other_bucket, _, key = uri[len("s3://") :].partition("/")
    answers[f"get {uri}"] = attempt("get_object", Bucket=other_bucket, Key=key)
(runtime.output_dir("answers") / "answers.json").write_text(json.dumps(answers, indent=1))
