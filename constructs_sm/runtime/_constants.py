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
PARAMS_CHANNEL = "params"
"""Reserved input channel holding :data:`PARAMS_FILE`."""
PARAMS_FILE = "params.json"
"""The execution parameters, one JSON object, in the ``params`` input channel."""
CODE_CHANNEL = "code"
"""Reserved input channel holding the step's code zip."""
RETURNS_CHANNEL = "returns"
"""Reserved output channel holding :data:`RETURNS_FILE`."""
RETURNS_FILE = "values.json"
"""The values written by :func:`emit`, one JSON object, in the ``returns`` output channel."""
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
TYPES = ("string", "integer", "number", "boolean")
"""The declared value types, as they appear in the spec."""
MAX_STRING = 1024
"""The longest string parameter value when the parameter declares no ``max_length``."""
MAX_SAFE_INTEGER = 2**53
"""Integer parameters lie within +-2**53: beyond, a JSON number loses integer precision
as a double (Step Functions' Java runtime)."""
EXPONENT_FROM = 10**7
"""Step Functions prints a double of this size or more in exponent notation (Java's
``Double.toString``: ``1.0E7``), so an integer parameter written with a fraction
(``10000000.0``) fails its integer check there; smaller ones (``5.0``) pass as ``5``."""

#: A step's ContainerEntrypoint is ``["python3", "-c", BOOTSTRAP, SCRIPT, *ARGS]``: it
#: extracts the code channel's zip into a temporary directory and runs the zip's
#: ``__main__.py`` (``ZIP_MAIN``), which hands over to :mod:`constructs_sm.runtime.launch`.
#: It must stay within the 256 characters of one entrypoint item.
BOOTSTRAP = (
    "import glob,os,runpy,tempfile as t,zipfile as z;d=t.mkdtemp();"
    "z.ZipFile(glob.glob(os.getenv('CSM_ML_DIR','/opt/ml')+'/processing/input/code/*.zip')[0])"
    ".extractall(d);runpy.run_path(d,run_name='__main__')"
)
#: The ``__main__.py`` at the root of every step's code zip.
ZIP_MAIN = (
    '"""Entry point of a step\'s code channel: runs the step\'s script via the launcher."""\n'
    "from constructs_sm.runtime.launch import main\n\n"
    "raise SystemExit(main())\n"
)
