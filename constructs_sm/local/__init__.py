"""Run pipelines offline: an embedded AWS (moto), its real Step Functions interpreter, and
SageMaker Processing jobs as local processes.

- :class:`Emulator` (``emulator``): moto in server mode in this process, with the
  Step Functions interpreter on and the SageMaker integration registered;
- ``jobs``: a processing job as a local process (inputs, entrypoint, outputs);
- ``sagemaker``: the ``createProcessingJob[.sync]`` integration for the interpreter,
  which validates every request as SageMaker does;
- ``faults``: AWS's errors injected on purpose (:class:`Fault`) and compressed time,
  for tests of the retry paths;
- ``iam`` and ``policies``: IAM enforced, each job and task with its own role, policies
  evaluated as AWS does (stricter where the emulator cannot tell);
- ``deploy`` / ``cfn_deploy``: the app deployed into the emulator with the cdk CLI, or
  through its CloudFormation API when there is no CLI (``cdk_cli`` finds one);

Command line: ``python -m constructs_sm.local run --help``. The engine needs the
``[local]`` extra (``pip install 'constructs-sm[local]'``): :class:`Emulator` and
:class:`Fault` are imported on first use, so a missing extra is reported with that fix
(:mod:`constructs_sm.local.extra`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_sm.local.emulator import Emulator
    from constructs_sm.local.faults import Fault

__all__ = ["Emulator", "Fault"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from constructs_sm.local.extra import missing_local_extra

    problem = missing_local_extra()
    if problem is not None:
        raise ModuleNotFoundError(problem)
    from constructs_sm.local import emulator, faults

    value = emulator.Emulator if name == "Emulator" else faults.Fault
    globals()[name] = value
    return value
