"""Channel directories (``runtime._channels``): :func:`input_dir`, :func:`output_dir`."""

from __future__ import annotations

from pathlib import Path

import pytest

from constructs_sm import runtime
from tests.runtime.support import SpecWriter, write_params


def test_input_dir_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    (ml / "processing" / "input" / "train").mkdir(parents=True)
    assert runtime.input_dir("train") == ml / "processing" / "input" / "train"


def test_input_dir_reserved_channels_are_always_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {})
    assert runtime.input_dir("params") == ml / "processing" / "csm" / "params"
    (ml / "processing" / "csm" / "code").mkdir(parents=True)
    assert runtime.input_dir("code") == ml / "processing" / "csm" / "code"


def test_input_dir_undeclared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    (ml / "processing" / "input" / "raw").mkdir(parents=True)
    with pytest.raises(
        runtime.ChannelError,
        match="step 'train' has no input channel 'raw'; declared inputs: 'train'",
    ):
        runtime.input_dir("raw")


def test_input_dir_none_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(inputs=[])
    with pytest.raises(runtime.ChannelError, match="declared inputs: none"):
        runtime.input_dir("train")


def test_input_dir_missing_directory(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(
        runtime.ChannelError, match=r"input channel 'train': directory .*/train does not exist"
    ):
        runtime.input_dir("train")


def test_input_dir_defaults_to_opt_ml(ml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.ML_DIR_ENV)
    with pytest.raises(runtime.ChannelError, match="/opt/ml/processing/input/csm-no-such"):
        runtime.input_dir("csm-no-such")


@pytest.mark.parametrize("name", ["", ".", "..", "../train", "a/b", "a\\b"])
def test_channel_names_must_be_plain(ml: Path, name: str) -> None:
    with pytest.raises(runtime.ChannelError, match="must be a plain directory name"):
        runtime.input_dir(name)
    with pytest.raises(runtime.ChannelError, match="must be a plain directory name"):
        runtime.output_dir(name)


def test_output_dir_created(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    path = runtime.output_dir("model")
    assert path == ml / "processing" / "output" / "model"
    assert path.is_dir()
    assert runtime.output_dir("model") == path  # exists already: fine


def test_output_dir_undeclared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(
        runtime.ChannelError,
        match="step 'train' has no output channel 'train'; declared outputs: 'model'",
    ):
        runtime.output_dir("train")
    assert not (ml / "processing" / "output" / "train").exists()


def test_output_dir_returns_is_reserved(ml: Path) -> None:
    with pytest.raises(runtime.ChannelError, match=r"'returns' is reserved; use emit\(\)"):
        runtime.output_dir("returns")


def test_channels_without_spec_accept_any_name(ml: Path) -> None:
    assert runtime.output_dir("anything").is_dir()
    (ml / "processing" / "input" / "whatever").mkdir(parents=True)
    assert runtime.input_dir("whatever").is_dir()


def test_channels_are_at_the_paths_the_spec_gives_them(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(
        inputs=["train", "extra"],
        outputs=["model", "report"],
        local_paths={
            "inputs": {"train": "/opt/ml/processing/input", "extra": "/opt/ml/processing/x/y"},
            "outputs": {"model": "/opt/ml/processing/output/processed"},
        },
    )
    (ml / "processing" / "input").mkdir(parents=True)
    assert runtime.input_dir("train") == ml / "processing" / "input"
    with pytest.raises(runtime.ChannelError, match=r"directory .*/processing/x/y does not exist"):
        runtime.input_dir("extra")
    assert runtime.output_dir("model") == ml / "processing" / "output" / "processed"
    assert (ml / "processing" / "output" / "processed").is_dir()
    # A channel the spec gives no path keeps the default one.
    assert runtime.output_dir("report") == ml / "processing" / "output" / "report"


def test_a_spec_with_malformed_local_paths_is_refused(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(local_paths={"inputs": {"train": "/tmp/elsewhere"}})
    with pytest.raises(runtime.RuntimeConfigError, match=r"local_paths\.inputs must map channels"):
        runtime.input_dir("train")
    use_spec(local_paths={"sideways": {}})
    with pytest.raises(runtime.RuntimeConfigError, match=r"local_paths\.sideways is not an object"):
        runtime.input_dir("train")
