"""A pipeline whose scripts record what they received: first -> (left || right)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from constructs_sm import ChannelBucket, Param, ProcessingImage, ProcessingPipeline, nag

SCRIPTS = Path(__file__).parent / "scripts"


class ProbeStack(Stack):
    """Every kind of typed passing, a step that fails on request and parallel branches
    (Probe); a step that declares a return value and emits none (Silent); a step that
    calls S3 itself, with its own role, inside and outside its grants (Peek)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = ChannelBucket(self, "Storage")
        image = ProcessingImage.from_registry(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/probe:latest"
        )
        pipeline = ProcessingPipeline(
            self,
            "Probe",
            storage=storage,
            image=image,
            params=[
                Param.integer("count", default=3, minimum=1),
                Param.number("ratio", default=0.25),
                Param.boolean("flag", default=False),
                Param.string("label", default="a b 'c' \"d\"", max_length=64),
                Param.number("sleep", default=0.0, minimum=0.0),
                Param.boolean("fail", default=False),
            ],
        )
        first = pipeline.add_step(
            "first",
            code=SCRIPTS / "first.py",
            outputs=["data"],
            env={
                "COUNT": pipeline.param("count"),
                "RATIO": pipeline.param("ratio"),
                "FLAG": pipeline.param("flag"),
                "LABEL": pipeline.param("label"),
                "LIT_INT": 7,
                "LIT_FLOAT": 2.5,
                "LIT_BOOL": True,
                "LIT_STR": "x y 'z'",
            },
            returns={"n": int, "x": float, "ok": bool, "s": str},
        )
        for name in ("left", "right"):
            pipeline.add_step(
                name,
                code=SCRIPTS / "branch.py",
                inputs={"data": first.output("data")},
                outputs=["seen"],
                env={
                    "N": first.value("n"),
                    "X": first.value("x"),
                    "OK": first.value("ok"),
                    "S": first.value("s"),
                    "SLEEP": pipeline.param("sleep"),
                    "FAIL": pipeline.param("fail"),
                },
                returns={"started": float, "ended": float},
            )
        silent = ProcessingPipeline(
            self,
            "Silent",
            storage=storage,
            image=image,
            params=[Param.string("mode", default="nothing", choices=["nothing", "erase"])],
        )
        silent.add_step(
            "silent",
            code=SCRIPTS / "silent.py",
            env={"MODE": silent.param("mode")},
            returns={"x": int},
        )
        peek = ProcessingPipeline(
            self,
            "Peek",
            storage=storage,
            image=image,
            params=[Param.string("foreign", default="", max_length=1000)],
        )
        source = peek.add_step("source", code=SCRIPTS / "source.py", outputs=["shared", "private"])
        peek.add_step(
            "peek",
            code=SCRIPTS / "peek.py",
            inputs={"shared": source.output("shared")},
            outputs=["answers"],
            network_isolation=False,
        )
        nag.acknowledge(
            peek.state_machine,
            ["ProcessingPipeline-JobNetworkIsolation[Run-peek]"],
            "The probe step calls S3 itself to show which of its calls the step's role "
            "allows: it needs the network.",
        )
