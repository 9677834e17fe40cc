"""Returned values (``runtime._returns``): :func:`emit` and :func:`start_returns`."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime
from tests.runtime.support import QUOTED, SpecWriter, read_returns, returns_file


def test_emit_writes_typed_values(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=1, rows=12.0, label=QUOTED, ok=False)
    assert read_returns(ml) == {"accuracy": 1.0, "rows": 12, "label": QUOTED, "ok": False}
    text = returns_file(ml).read_text(encoding="utf-8")
    assert '"accuracy": 1.0' in text
    assert '"rows": 12\n' in text


def test_emit_merges_with_earlier_calls_and_the_file(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)
    runtime.emit(rows=3)
    runtime.emit(accuracy=0.75)
    assert read_returns(ml) == {"accuracy": 0.75, "rows": 3}
    # values written by someone else (an earlier process) are kept
    returns_file(ml).write_text(json.dumps({"label": "prior"}), encoding="utf-8")
    runtime.emit(ok=True)
    assert read_returns(ml) == {"label": "prior", "accuracy": 0.75, "rows": 3, "ok": True}


def test_emit_remembers_values_if_the_file_disappears(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)
    returns_file(ml).unlink()
    runtime.emit(rows=1)
    assert read_returns(ml) == {"accuracy": 0.5, "rows": 1}


def test_emit_unknown_name(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(
        runtime.ReturnValueError,
        match="unknown return value 'acc' for step 'train'; "
        "declared returns: 'accuracy', 'rows', 'label', 'ok'",
    ):
        runtime.emit(acc=0.9)
    assert not returns_file(ml).exists()


def test_emit_nothing_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(returns={})
    with pytest.raises(runtime.ReturnValueError, match="declared returns: none"):
        runtime.emit(accuracy=0.9)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"accuracy": "high"}, r"return value 'accuracy' must be a number, got 'high' \(str\)"),
        ({"accuracy": True}, r"return value 'accuracy' must be a number, got True \(bool\)"),
        ({"accuracy": math.nan}, "return value 'accuracy' must be a finite number, got nan"),
        ({"accuracy": math.inf}, "return value 'accuracy' must be a finite number, got inf"),
        ({"rows": False}, r"return value 'rows' must be an integer, got False \(bool\)"),
        ({"rows": 2.5}, r"return value 'rows' must be an integer, got 2.5 \(float\)"),
        ({"label": 5}, r"return value 'label' must be a string, got 5 \(int\)"),
        ({"label": None}, r"return value 'label' must be a string, got None"),
        ({"ok": 1}, r"return value 'ok' must be a boolean, got 1 \(int\)"),
    ],
)
def test_emit_type_errors(
    ml: Path, use_spec: SpecWriter, values: dict[str, Any], message: str
) -> None:
    use_spec()
    with pytest.raises(runtime.ReturnValueError, match=message):
        runtime.emit(**values)
    assert not returns_file(ml).exists()


def test_emit_is_all_or_nothing(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(rows=1)
    with pytest.raises(runtime.ReturnValueError) as caught:
        runtime.emit(accuracy=0.5, rows="x", nope=1)
    assert "return value 'rows' must be an integer" in str(caught.value)
    assert "unknown return value 'nope'" in str(caught.value)
    assert read_returns(ml) == {"rows": 1}
    runtime.emit()
    assert read_returns(ml) == {"rows": 1}


def test_emit_without_spec(ml: Path) -> None:
    runtime.emit(a=1, b=0.5, c="x", d=True)
    assert read_returns(ml) == {"a": 1, "b": 0.5, "c": "x", "d": True}
    with pytest.raises(
        runtime.ReturnValueError,
        match=r"return value 'e' must be a string, integer, number or boolean, got \[1\]",
    ):
        runtime.emit(e=[1])
    with pytest.raises(runtime.ReturnValueError, match="return value 'f' must be a finite number"):
        runtime.emit(f=-math.inf)


def test_emit_replaces_the_file_atomically(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)
    path = returns_file(ml)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == [runtime.returns_file_name("algo-1")]
    inode = path.stat().st_ino
    runtime.emit(rows=2)
    assert path.stat().st_ino != inode  # a new file was moved into place
    assert [p.name for p in path.parent.iterdir()] == [runtime.returns_file_name("algo-1")]


def test_emit_failure_leaves_the_old_file(
    ml: Path, use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", fail)
        with pytest.raises(OSError, match="disk full"):
            runtime.emit(rows=2)
    assert read_returns(ml) == {"accuracy": 0.5}
    assert [p.name for p in returns_file(ml).parent.iterdir()] == [
        runtime.returns_file_name("algo-1")
    ]


def test_emit_corrupt_existing_file(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    returns_file(ml).parent.mkdir(parents=True)
    returns_file(ml).write_text("[]", encoding="utf-8")
    with pytest.raises(
        runtime.ReturnValueError, match=r"values-algo-1\.json must hold a JSON object"
    ):
        runtime.emit(rows=1)


def test_returned_strings_are_at_most_256_characters(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(runtime.ReturnValueError, match=r"'label' is 257 characters"):
        runtime.emit(label="x" * 257)
    runtime.emit(label="x" * 256)
    assert read_returns(ml)["label"] == "x" * 256


def test_start_returns_writes_an_empty_file_once(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.start_returns()
    assert read_returns(ml) == {}
    runtime.emit(ok=True)
    runtime.start_returns()  # an existing file is kept
    assert read_returns(ml) == {"ok": True}


def test_start_returns_does_nothing_without_declared_returns(
    ml: Path, use_spec: SpecWriter
) -> None:
    use_spec(returns={})
    runtime.start_returns()
    assert not returns_file(ml).exists()


def test_each_host_writes_its_own_returns_file(ml: Path, use_spec: SpecWriter) -> None:
    """SageMaker uploads every host's returns directory to one prefix: one file per host."""
    use_spec()
    config = ml / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]})
    )
    runtime.emit(accuracy=0.5)
    assert json.loads(returns_file(ml, "algo-2").read_text()) == {"accuracy": 0.5}
    assert not returns_file(ml, "algo-1").exists()
