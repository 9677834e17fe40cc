"""The names shared by the pipeline and the container: channels, files, variables, types.

The pipeline (``constructs_sm.step``, ``constructs_sm.pipeline``) builds the job's
channels, environment and entrypoint from these names; the runtime reads them back in
the container. Also the container's bootstrap (:data:`BOOTSTRAP`) and the code zip's
``__main__.py`` (:data:`ZIP_MAIN`). No imports: every other runtime module may use it.
"""

from __future__ import annotations

SPEC_FILE = "csm_step.json"
"""Name of the step spec inside the code zip."""
SPEC_VERSION = 1
"""The spec ``version`` this runtime understands."""
SPECS_DIR = "csm_steps"
"""Where a pipeline's code bundle keeps each step's spec: ``csm_steps/<step>.json``."""
MESSAGE_FILE = "output/message"
"""Below the container root: SageMaker puts this file's first 1 KB in the job's
ExitMessage, through which a single-host step returns its values."""
MAX_MESSAGE_BYTES = 1024
"""The size of a job's ExitMessage."""
PARAMS_CHANNEL = "params"
"""Reserved input channel holding :data:`PARAMS_FILE`."""
PARAMS_FILE = "params.json"
"""The execution parameters, one JSON object, in the ``params`` input channel."""
CODE_CHANNEL = "code"
"""Reserved input channel holding the step's code zip."""
RETURNS_CHANNEL = "returns"
"""Reserved output channel holding each host's :func:`returns_file_name`."""
RESERVED_DIR = "processing/csm"
"""Below the container root: the pipeline's own channels (``code``, ``params``,
``returns``), ``/opt/ml/processing/csm/<channel>``. Apart from every path a step's own
channels may take (the pipeline refuses ``/opt/ml/processing/csm/`` for them), so a
ported script may use ``/opt/ml/processing/input`` or ``/opt/ml/processing/output``
whole."""
ML_DIR_ENV = "CSM_ML_DIR"
"""Environment variable overriding the container root."""
DEFAULT_ML_DIR = "/opt/ml"
"""The container root used by SageMaker Processing."""
STEP_ENV = "CSM_STEP"
"""Environment variable holding the step name (set by the pipeline)."""
PIPELINE_ENV = "CSM_PIPELINE"
"""Environment variable holding the pipeline id (set by the pipeline)."""
CODE_DIR_ENV = "CSM_CODE_DIR"
"""Environment variable holding the directory the code zip was extracted to."""
SPEC_ENV = "CSM_STEP_SPEC"
"""Environment variable naming a spec file explicitly (takes precedence)."""
ITEM_ENV = "CSM_ITEM"
"""Environment variable holding the item of a ``for_each`` step's job."""
ITEM_INDEX_ENV = "CSM_ITEM_INDEX"
"""Environment variable holding the item's position (0, 1, ...) among the step's items."""
TYPES = ("string", "integer", "number", "boolean", "string_list")
"""The declared value types, as they appear in the spec."""
COMMAND_FLAG = "--command"
"""Launcher argument before a non-Python command: ``--command bash -- SCRIPT``."""
MAX_STRING = 1024
"""The longest string parameter value when the parameter declares no ``max_length``."""
MAX_SAFE_INTEGER = 2**53
"""Integer parameters lie within +-2**53: beyond, a JSON number loses integer precision
as a double (Step Functions' Java runtime)."""
EXPONENT_FROM = 10**7
"""Step Functions prints a double of this size or more in exponent notation (Java's
``Double.toString``: ``1.0E7``), so an integer parameter written with a fraction
(``10000000.0``) fails its integer check there; smaller ones (``5.0``) pass as ``5``."""

# What the launcher exports to a non-Python entry point (``command=["bash"]``): the values
# a Python script reads through this package, as environment variables and files.
SOURCE_DIR_ENV = "CSM_SOURCE_DIR"
"""The step's code directory (its ``code=`` directory, or the one holding its script)."""
PARAMS_FILE_ENV = "CSM_PARAMS_FILE"
"""The execution parameters file (:data:`PARAMS_FILE`, one JSON object)."""
PARAM_ENV_PREFIX = "CSM_PARAM_"
"""``CSM_PARAM_<name>``: each parameter as text (``true``/``false``, ``10``, ``0.01``)."""
INPUT_ENV_PREFIX = "CSM_INPUT_"
"""``CSM_INPUT_<channel>``: each input channel's directory (``-`` in a name becomes ``_``)."""
OUTPUT_ENV_PREFIX = "CSM_OUTPUT_"
"""``CSM_OUTPUT_<channel>``: each output channel's directory, created."""
RETURNS_FILE_ENV = "CSM_RETURNS_FILE"
"""Where the script writes its returned values, one JSON object (steps with returns)."""
CURRENT_HOST_ENV = "CSM_CURRENT_HOST"
"""This instance's host name (``algo-1``)."""
HOSTS_ENV = "CSM_HOSTS"
"""Every host of the job, separated by spaces (``algo-1 algo-2``)."""
NUM_CPUS_ENV = "CSM_NUM_CPUS"
"""The CPUs this container may use."""
NUM_GPUS_ENV = "CSM_NUM_GPUS"
"""The GPUs of this instance (0 without any)."""
JOB_NAME_ENV = "CSM_JOB_NAME"
"""The processing job's name."""
INSTANCE_TYPE_ENV = "CSM_INSTANCE_TYPE"
"""The instance type the job runs on (``ml.m5.xlarge``)."""


def channel_env_name(prefix: str, channel: str) -> str:
    """The variable of a channel: ``channel_env_name(INPUT_ENV_PREFIX, "raw-data")`` is
    ``CSM_INPUT_raw_data`` (a shell variable name has no ``-``)."""
    return prefix + channel.replace("-", "_")


def returns_file_name(host: str) -> str:
    """The file of values one host returns (``values-algo-1.json``), a JSON object.

    Every host of a multi-instance job has its own: SageMaker uploads each host's output
    directory to the same S3 prefix, so one shared name would keep the last host's file
    only. The state machine reads every host's file and merges them.
    """
    return f"values-{host}.json"


#: A step's ContainerEntrypoint is ``[*COMMAND, "-c", BOOTSTRAP, SCRIPT]`` (a Python
#: command such as ``python3 -u``) or ``["python3", "-c", BOOTSTRAP, "--command", *COMMAND,
#: "--", SCRIPT]`` (any other command, e.g. ``bash``), then the step's arguments: it
#: extracts the code channel's zip into a temporary directory and runs the zip's
#: ``__main__.py`` (``ZIP_MAIN``), which hands over to :mod:`constructs_sm.runtime.launch`.
#: It must stay within the 256 characters of one entrypoint item.
BOOTSTRAP = (
    "import glob,os,runpy,tempfile as t,zipfile as z;d=t.mkdtemp();"
    "z.ZipFile(glob.glob(os.getenv('CSM_ML_DIR','/opt/ml')+'/processing/csm/code/*.zip')[0])"
    ".extractall(d);runpy.run_path(d,run_name='__main__')"
)
#: The ``__main__.py`` at the root of every step's code zip.
ZIP_MAIN = (
    '"""Entry point of a step\'s code channel: runs the step\'s script via the launcher."""\n'
    "from constructs_sm.runtime.launch import main\n\n"
    "raise SystemExit(main())\n"
)
