"""What the runtime's tests share: a step spec, parameters that satisfy it, file helpers.

``tmp_path`` stands in for ``/opt/ml`` (via ``CSM_ML_DIR``) and the step spec is
pointed at with ``CSM_STEP_SPEC`` (the fixtures ``ml`` and ``use_spec`` in conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from constructs_sm import runtime

RUNTIME_DIR = Path(runtime.__file__).resolve().parent

QUOTED = """it's a "quoted" string  with  spaces, \\ and ünïcode"""


def param_entry(type_name: str, **settings: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type_name,
        "default": None,
        "minimum": None,
        "maximum": None,
        "choices": None,
        "pattern": None,
    }
    entry.update(settings)
    return entry


SPEC: dict[str, Any] = {
    "version": 1,
    "pipeline": "Pipeline",
    "step": "train",
    "params": {
        "raw_uri": param_entry("string", pattern=r"^s3://"),
        "epochs": param_entry("integer", default=10, minimum=1),
        "batch": param_entry("integer", default=32, maximum=512),
        "learning_rate": param_entry("number", default=0.01, minimum=0, maximum=1),
        "debug": param_entry("boolean", default=False),
        "mode": param_entry("string", default="fast", choices=["fast", "full"]),
        "note": param_entry("string", default=""),
    },
    "env": {
        "EPOCHS": {"type": "integer", "source": "param:epochs"},
        "LEARNING_RATE": {"type": "number", "source": "param:learning_rate"},
        "ACC": {"type": "number", "source": "value:evaluate.accuracy"},
        "DEBUG": {"type": "boolean", "source": "param:debug"},
        "MODE": {"type": "string", "source": "literal"},
    },
    "inputs": ["train"],
    "outputs": ["model"],
    "returns": {"accuracy": "number", "rows": "integer", "label": "string", "ok": "boolean"},
}


CSM_VARIABLES = (
    runtime.ML_DIR_ENV,
    runtime.SPEC_ENV,
    runtime.CODE_DIR_ENV,
    runtime.STEP_ENV,
    runtime.PIPELINE_ENV,
)


SpecWriter = Callable[..., Path]
"""The ``use_spec`` fixture: writes ``SPEC`` with top-level overrides, returns its path."""


def write_params(ml: Path, data: object) -> Path:
    path = ml / runtime.RESERVED_DIR / runtime.PARAMS_CHANNEL / runtime.PARAMS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def returns_file(ml: Path, host: str = "algo-1") -> Path:
    """The returns file of ``host`` (``algo-1`` when there is no resource config)."""
    return ml / runtime.RESERVED_DIR / runtime.RETURNS_CHANNEL / runtime.returns_file_name(host)


def read_returns(ml: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(returns_file(ml).read_text(encoding="utf-8"))
    return data


GOOD_PARAMS: dict[str, Any] = {
    "raw_uri": "s3://bucket/raw/data.csv",
    "epochs": 12,
    "batch": 64,
    "learning_rate": 0.001,
    "debug": True,
    "mode": "full",
    "note": QUOTED,
}
