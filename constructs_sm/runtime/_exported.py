"""What a non-Python entry point gets instead of this package: the step's values as
environment variables and files.

The launcher (:mod:`constructs_sm.runtime.launch`) runs a step whose command is not
Python (``command=["bash"]``) as a child process with these variables added:

=========================  ==========================================================
``CSM_SOURCE_DIR``         the step's code directory (its helper files are there)
``CSM_PARAMS_FILE``        the execution parameters, one JSON object
``CSM_PARAM_<name>``       each parameter, checked and typed as :func:`params` does,
                           as text: ``true``/``false``, ``10``, ``0.01``, strings as
                           they are, lists as JSON (values over 32 KiB: the file only)
``CSM_INPUT_<channel>``    each input channel's directory (``-`` becomes ``_``)
``CSM_OUTPUT_<channel>``   each output channel's directory (created)
``CSM_RETURNS_FILE``       where the script writes its returned values as one JSON
                           object (steps with ``returns``); checked as :func:`emit`
                           checks them when the script exits 0
``CSM_CURRENT_HOST``       this instance (``algo-1``)
``CSM_HOSTS``              every instance, separated by spaces
``CSM_NUM_CPUS``           CPUs this container may use (:func:`cpu_count`)
``CSM_NUM_GPUS``           GPUs of the instance (:func:`gpu_count`)
``CSM_JOB_NAME``           the processing job's name
``CSM_INSTANCE_TYPE``      the instance type (``ml.m5.xlarge``)
=========================  ==========================================================

``CSM_STEP``, ``CSM_PIPELINE`` and the step's ``env=`` values are in the job's
environment already.
"""

from __future__ import annotations

import json
from pathlib import Path

from constructs_sm.runtime._channels import declared_path, output_dir
from constructs_sm.runtime._constants import (
    CURRENT_HOST_ENV,
    HOSTS_ENV,
    INPUT_ENV_PREFIX,
    INSTANCE_TYPE_ENV,
    JOB_NAME_ENV,
    NUM_CPUS_ENV,
    NUM_GPUS_ENV,
    OUTPUT_ENV_PREFIX,
    PARAM_ENV_PREFIX,
    PARAMS_FILE_ENV,
    RETURNS_FILE_ENV,
    SOURCE_DIR_ENV,
    channel_env_name,
)
from constructs_sm.runtime._job import (
    cpu_count,
    current_host,
    gpu_count,
    hosts,
    instance_type,
    job_name,
)
from constructs_sm.runtime._parameters import params, params_file
from constructs_sm.runtime._returns import returns_path
from constructs_sm.runtime._spec import spec

#: One environment string is at most 128 KiB on Linux (MAX_ARG_STRLEN); parameters longer
#: than this are read from the parameters file only.
MAX_EXPORTED_VALUE = 32 * 1024


def value_text(value: object) -> str:
    """A typed value as the environment carries it: ``true``/``false``, ``10``, ``0.01``,
    strings as they are, anything else (lists) as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


def exported_environment(source_dir: Path) -> dict[str, str]:
    """The variables a non-Python entry point gets (see the module docstring).

    Reads and checks the parameters as :func:`params` does (a bad parameter raises its
    :class:`ParameterError` here, before the script starts) and creates the output
    channels' directories.
    """
    current = spec() or {}
    exported = {SOURCE_DIR_ENV: str(source_dir), PARAMS_FILE_ENV: str(params_file())}
    for name, value in params().items():
        text = value_text(value)
        if len(text) <= MAX_EXPORTED_VALUE:
            exported[PARAM_ENV_PREFIX + name] = text
    for name in current.get("inputs") or []:
        path = declared_path(current, "input", name)
        exported[channel_env_name(INPUT_ENV_PREFIX, name)] = str(path)
    for name in current.get("outputs") or []:
        exported[channel_env_name(OUTPUT_ENV_PREFIX, name)] = str(output_dir(name))
    if current.get("returns"):
        exported[RETURNS_FILE_ENV] = str(returns_path())
    exported[CURRENT_HOST_ENV] = current_host()
    exported[HOSTS_ENV] = " ".join(hosts())
    exported[NUM_CPUS_ENV] = str(cpu_count())
    exported[NUM_GPUS_ENV] = str(gpu_count())
    for key, value in ((JOB_NAME_ENV, job_name()), (INSTANCE_TYPE_ENV, instance_type())):
        if value is not None:
            exported[key] = value
    return exported
