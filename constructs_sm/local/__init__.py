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

Command line: ``python -m constructs_sm.local run --help``.
"""

from constructs_sm.local.emulator import Emulator
from constructs_sm.local.faults import Fault

__all__ = ["Emulator", "Fault"]
