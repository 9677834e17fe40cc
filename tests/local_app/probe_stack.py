"""A pipeline whose scripts record what they received: first -> (left || right)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from constructs_sm import (
    ChannelBucket,
    Param,
    ProcessingImage,
    ProcessingPipeline,
    Resources,
    nag,
)
from constructs_sm.hosting import INLINE_LIMIT_CONTEXT

SCRIPTS = Path(__file__).parent / "scripts"


class ProbeStack(Stack):
    """Every kind of typed passing, a step that fails on request and parallel branches
    (Probe); a step that declares a return value and emits none (Silent); a two-host job
    whose hosts return values (Hosts); fan-out steps over a list parameter and over the
    objects of an output, joined by a step reading every item's output (Fan); a step that
    calls S3 itself, with its own role, inside and outside its grants (Peek).

    Its definitions are hosted in S3 (``DefinitionS3Location`` with substitutions, as a
    large pipeline's are), the example stack's stay in the template: the offline tests run
    both.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.node.set_context(INLINE_LIMIT_CONTEXT, 0)
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
                # A file whose existence "fixes" the run: right no longer fails on request
                # and the branches no longer sleep (tests of redrive).
                Param.string("fixed_by", default="", max_length=200),
                # Branches start a sleeper in a session of its own, with this in its
                # command line (tests of the processes a job leaves behind).
                Param.string("spawn", default="", max_length=64),
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
                    "FIXED_BY": pipeline.param("fixed_by"),
                    "SPAWN": pipeline.param("spawn"),
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
        hosts = ProcessingPipeline(
            self,
            "Hosts",
            storage=storage,
            image=image,
            params=[Param.boolean("disagree", default=False)],
        )
        hosts.add_step(
            "pair",
            code=SCRIPTS / "hosts.py",
            returns={"n": int, "leader": str},
            resources=Resources(instance_count=2),
        )
        fan = ProcessingPipeline(
            self,
            "Fan",
            storage=storage,
            image=image,
            params=[
                Param.string_list("regions", default=["eu", "us"], max_items=5),
                Param.integer("parts", default=3, minimum=0),
            ],
        )
        split = fan.add_step("split", code=SCRIPTS / "fan_split.py", outputs=["parts"])
        per_region = fan.add_step(
            "per_region",
            code=SCRIPTS / "fan_item.py",
            for_each=fan.param("regions"),
            env={"ITEM_ENV": fan.item()},
            outputs=["out"],
            max_concurrency=2,
            tolerated_failure_count=1,
        )
        per_part = fan.add_step(
            "per_part",
            code=SCRIPTS / "fan_item.py",
            for_each=split.output("parts"),
            outputs=["out"],
        )
        fan.add_step(
            "join",
            code=SCRIPTS / "fan_join.py",
            inputs={"regions": per_region.output("out"), "parts": per_part.output("out")},
            returns={"regions": str, "parts": int, "first": str},
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
