"""Where a pipeline's run data lives in the channel bucket (pure): the handoff layout.

Every object a run writes is under ``<pipeline>/<step>/<channel>/<execution>/``:

- a step's output channel: ``<pipeline>/<step>/<channel>/<execution>/``;
- the returned values of a multi-host step (a single host returns them through the
  job's ExitMessage): ``<pipeline>/_returns/<step>/<execution>/values-<host>.json``;
- the run's parameters, written by the state machine itself:
  ``<pipeline>/_run/params/<execution>/params.json`` (``_run`` cannot be a step name).

The execution comes last because IAM's ``*`` also matches ``/``: every grant is then the
literal prefix ``<pipeline>/<step>/<channel>/`` followed by ``*``, which cannot reach into
another step's or channel's data whatever a key holds, while concurrent executions still
write apart (``.../E1/`` and ``.../E10/`` never nest). The pipeline's run prefix
``<pipeline>/`` holds all of it, and its lifecycle rule expires it.
"""

from __future__ import annotations

from typing import Final

from constructs_sm import runtime as _rt

#: The pseudo-step under which the state machine writes the run's own files.
RUN_STEP: Final = "_run"
#: The pseudo-step under which multi-host steps write their returned values: one literal
#: prefix the state machine's role may read, which holds no step's data channel.
RETURNS_STEP: Final = "_returns"


def channel_prefix(pipeline: str, step: str, channel: str) -> str:
    """``<pipeline>/<step>/<channel>/``: every execution's data of one channel (a grant)."""
    return f"{pipeline}/{step}/{channel}/"


def params_prefix(pipeline: str) -> str:
    """``<pipeline>/_run/params/``: the parameters files of every execution."""
    return channel_prefix(pipeline, RUN_STEP, _rt.PARAMS_CHANNEL)


def returns_prefix(pipeline: str, step: str) -> str:
    """``<pipeline>/_returns/<step>/``: where a multi-host step's hosts write their values."""
    return channel_prefix(pipeline, RETURNS_STEP, step)


def returns_reading_prefix(pipeline: str) -> str:
    """``<pipeline>/_returns/``: every step's returned values (the state machine reads)."""
    return f"{pipeline}/{RETURNS_STEP}/"


def execution_key(pipeline: str, step: str, channel: str, execution: str, name: str = "") -> str:
    """``<pipeline>/<step>/<channel>/<execution>/<name>``: one execution's object (or prefix)."""
    return f"{channel_prefix(pipeline, step, channel)}{execution}/{name}"


def channel_uri_expression(pipeline: str, step: str, channel: str) -> str:
    """Intrinsic expression of ``s3://<bucket>/<pipeline>/<step>/<channel>/<execution>/``."""
    return (
        f"States.Format('s3://{{}}/{channel_prefix(pipeline, step, channel)}{{}}/', "
        "$.run.bucket, $.run.execution)"
    )


def channel_key_expression(pipeline: str, step: str, channel: str, name: str) -> str:
    """Intrinsic expression of the key ``<pipeline>/<step>/<channel>/<execution>/<name>``."""
    return f"States.Format('{channel_prefix(pipeline, step, channel)}{{}}/{name}', $.run.execution)"
