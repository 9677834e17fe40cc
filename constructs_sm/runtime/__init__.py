"""Container-side runtime of ``constructs_sm``: typed parameters, channels and return values.

This package runs *inside* the processing container. It uses the Python standard
library only (Python >= 3.10) and never imports CDK, so the pipeline can ship it in
the step's code zip next to the user's script.

Usage in a step script::

    from constructs_sm import runtime

    p = runtime.params()                  # typed, validated: p.epochs is an int
    lr = runtime.env("LEARNING_RATE")     # "1.0E-4" in the environment -> 0.0001
    raw = runtime.input_dir("raw")        # /opt/ml/processing/input/raw, or its local_path
    out = runtime.output_dir("train")     # /opt/ml/processing/output/train (created)
    (out / "rows.csv").write_text((raw / "rows.csv").read_text())
    runtime.emit(accuracy=0.93)           # read back by the state machine
    region = runtime.item()               # a for_each step's item (its job's own)

Where things are:

- the container root is ``$CSM_ML_DIR`` (default ``/opt/ml``);
- the step's channels: each channel's ``LocalPath`` (``<root>/processing/input/<name>``,
  ``<root>/processing/output/<name>``, or the step's own ``local_path``); the pipeline's
  own channels in ``<root>/processing/csm/``;
- parameters: ``<root>/processing/csm/params/params.json``;
- return values: ``<root>/processing/csm/returns/values-<host>.json`` (one per host);
- the step spec (``csm_step.json``, written by the pipeline at synth time) is read
  from ``$CSM_STEP_SPEC`` if set, else from ``$CSM_CODE_DIR/csm_step.json``
  (``CSM_CODE_DIR`` is set by :mod:`constructs_sm.runtime.launch`).

Without a spec (a script run by hand, outside the pipeline) nothing is declared:
:func:`params` returns the JSON values as parsed, :func:`env` returns strings, any
channel name is accepted and :func:`emit` accepts any string, integer, finite
number or boolean.

Everything is read at call time; the only state kept between calls is the set of
values already emitted, per returns file.

The implementation is split by concern into private modules, flat in this directory
(the pipeline ships every ``constructs_sm/runtime/*.py`` file in the step's code zip);
import from this package, not from them:

- ``_constants``: channel, file and variable names, the value types, the bootstrap;
- ``_errors``: :class:`RuntimeConfigError` and its subclasses;
- ``_files``: the container root, strict JSON reads and atomic JSON writes;
- ``_values``: :func:`convert` and :func:`parse_env_string`;
- ``_spec``: finding and checking the step spec (:func:`spec`, :func:`step_name`);
- ``_parameters``: :class:`Params`, :func:`params`, :func:`check_parameter` and
  :func:`env`;
- ``_channels``: :func:`input_dir` and :func:`output_dir`;
- ``_returns``: :func:`emit` and :func:`start_returns`;
- ``_job``: the job's config, hosts and machine (:func:`job_config`, :func:`hosts`,
  :func:`cpu_count`, :func:`gpu_count`, ...);
- ``_exported``: the values a non-Python entry point gets as environment variables;
- ``_item``: the item of a ``for_each`` step's job (:func:`item`, :func:`item_index`);
- :mod:`~constructs_sm.runtime.launch`: the launcher the code zip's ``__main__`` runs.
"""

from __future__ import annotations

from constructs_sm.runtime._channels import input_dir, output_dir
from constructs_sm.runtime._constants import BOOTSTRAP as BOOTSTRAP
from constructs_sm.runtime._constants import (
    CODE_CHANNEL,
    CODE_DIR_ENV,
    COMMAND_FLAG,
    DEFAULT_ML_DIR,
    EXPONENT_FROM,
    ITEM_ENV,
    ITEM_INDEX_ENV,
    MAX_SAFE_INTEGER,
    MAX_STRING,
    ML_DIR_ENV,
    PARAMS_CHANNEL,
    PARAMS_FILE,
    PIPELINE_ENV,
    RESERVED_DIR,
    RETURNS_CHANNEL,
    SPEC_ENV,
    SPEC_FILE,
    SPEC_VERSION,
    SPECS_DIR,
    STEP_ENV,
    TYPES,
    returns_file_name,
)
from constructs_sm.runtime._constants import ZIP_MAIN as ZIP_MAIN
from constructs_sm.runtime._errors import (
    ChannelError,
    ParameterError,
    ReturnValueError,
    RuntimeConfigError,
)
from constructs_sm.runtime._item import item, item_index
from constructs_sm.runtime._job import (
    cpu_count,
    current_host,
    gpu_count,
    hosts,
    instance_type,
    job_config,
    job_name,
)
from constructs_sm.runtime._parameters import Params, check_parameter, env, params, uncarriable
from constructs_sm.runtime._returns import MAX_RETURNED_STRING as MAX_RETURNED_STRING
from constructs_sm.runtime._returns import emit, finish_returns, start_returns
from constructs_sm.runtime._spec import spec, step_name
from constructs_sm.runtime._values import Value, convert, parse_env_string

__all__ = [
    "CODE_CHANNEL",
    "CODE_DIR_ENV",
    "COMMAND_FLAG",
    "DEFAULT_ML_DIR",
    "EXPONENT_FROM",
    "ITEM_ENV",
    "ITEM_INDEX_ENV",
    "MAX_SAFE_INTEGER",
    "MAX_STRING",
    "ML_DIR_ENV",
    "PARAMS_CHANNEL",
    "PARAMS_FILE",
    "PIPELINE_ENV",
    "RESERVED_DIR",
    "RETURNS_CHANNEL",
    "SPECS_DIR",
    "SPEC_ENV",
    "SPEC_FILE",
    "SPEC_VERSION",
    "STEP_ENV",
    "TYPES",
    "ChannelError",
    "ParameterError",
    "Params",
    "ReturnValueError",
    "RuntimeConfigError",
    "Value",
    "check_parameter",
    "convert",
    "cpu_count",
    "current_host",
    "emit",
    "env",
    "finish_returns",
    "gpu_count",
    "hosts",
    "input_dir",
    "instance_type",
    "item",
    "item_index",
    "job_config",
    "job_name",
    "output_dir",
    "params",
    "parse_env_string",
    "returns_file_name",
    "spec",
    "start_returns",
    "step_name",
    "uncarriable",
]

# The public classes keep this package as their home, as before the split: tracebacks
# print ``constructs_sm.runtime.ParameterError``, pickles name ``constructs_sm.runtime.Params``.
for _public in (RuntimeConfigError, ParameterError, ChannelError, ReturnValueError, Params):
    _public.__module__ = __name__
del _public
