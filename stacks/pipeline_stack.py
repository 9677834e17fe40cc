"""The example pipeline: prepare -> (profile || train) -> evaluate, on customer data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from constructs_sm import ChannelBucket, Param, ProcessingImage, ProcessingPipeline, Resources

HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts"


class ChurnPipelineStack(Stack):
    """A four-step churn-model pipeline showing every kind of typed passing.

    - execution input: ``raw_uri``, ``epochs``, ``learning_rate``, ``test_fraction``,
      ``seed``, ``debug`` (typed, defaulted, validated before the first job);
    - environment: params and a returned value, converted to strings and back;
    - S3 handoffs: ``prepare``'s ``train``/``test`` feed ``profile``, ``train`` and
      ``evaluate``; ``train``'s ``model`` feeds ``evaluate``;
    - returned values: ``evaluate`` returns ``accuracy`` and ``passed``;
    - observability: an alarm on failed runs, the stack outputs the state machine's ARN,
      the channel bucket and the handoff root.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = ChannelBucket(self, "Storage")
        image = ProcessingImage.from_asset(self, "Image", directory=str(HERE / "image"))
        pipeline = ProcessingPipeline(
            self,
            "Churn",
            storage=storage,
            image=image,
            params=churn_params(),
        )
        add_churn_steps(pipeline, profile=True)
        # Failed, timed-out or aborted runs notify an encrypted topic the pipeline creates.
        pipeline.alarm_on_failure()
        self.storage = storage
        self.pipeline = pipeline


def churn_params() -> list[Param]:
    """The execution-input parameters of the churn pipelines."""
    return [
        Param.string("raw_uri", pattern=r"^s3://", description="CSV files to train on"),
        Param.integer("epochs", default=50, minimum=1, maximum=10_000),
        Param.number("learning_rate", default=0.5, minimum=0.0001, maximum=10.0),
        Param.number("test_fraction", default=0.25, minimum=0.05, maximum=0.5),
        Param.integer("seed", default=42),
        Param.boolean("debug", default=False),
        Param.number("min_accuracy", default=0.7, minimum=0.0, maximum=1.0),
    ]


def add_churn_steps(pipeline: ProcessingPipeline, *, profile: bool) -> None:
    """prepare -> train -> evaluate, plus ``profile`` beside train when asked."""
    small = Resources(instance_type="ml.t3.medium", volume_size_gb=10, max_runtime_seconds=3600)
    prepare = pipeline.add_step(
        "prepare",
        code=SCRIPTS / "prepare.py",
        inputs={"raw": pipeline.param("raw_uri")},
        outputs=["train", "test"],
        env={
            "DEBUG": pipeline.param("debug"),
            "TEST_FRACTION": pipeline.param("test_fraction"),
        },
        returns={"rows": int, "train_rows": int},
        resources=small,
    )
    if profile:
        pipeline.add_step(
            "profile",
            code=SCRIPTS / "profile.py",
            inputs={"train": prepare.output("train")},
            outputs=["report"],
            returns={"positive_rate": float},
            resources=small,
        )
    train = pipeline.add_step(
        "train",
        code=SCRIPTS / "train.py",
        inputs={"train": prepare.output("train")},
        outputs=["model"],
        env={
            "EPOCHS": pipeline.param("epochs"),
            "LEARNING_RATE": pipeline.param("learning_rate"),
        },
        returns={"final_loss": float},
        resources=Resources(instance_type="ml.m5.xlarge", max_runtime_seconds=4 * 3600),
    )
    pipeline.add_step(
        "evaluate",
        code=SCRIPTS / "evaluate.py",
        inputs={"model": train.output("model"), "test": prepare.output("test")},
        env={
            "MIN_ACCURACY": pipeline.param("min_accuracy"),
            "TRAIN_LOSS": train.value("final_loss"),
        },
        returns={"accuracy": float, "passed": bool},
        resources=small,
    )
