"""constructs_sm.local.cdk_cli: the cdk CLI found the way users install it."""

from __future__ import annotations

from pathlib import Path

import pytest

from constructs_sm.local.cdk_cli import CdkNotFoundError, find_cdk, named_cdk, node_hint


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A project two folders below a node_modules/.bin/cdk, and a global bin with cdk."""
    project = tmp_path / "work" / "apps" / "project"
    project.mkdir(parents=True)
    return {
        "project": project,
        "above": _executable(tmp_path / "work" / "node_modules" / ".bin" / "cdk"),
        "global": _executable(tmp_path / "global" / "cdk"),
    }


def test_node_modules_bin_of_the_project_or_above_comes_first(layout: dict[str, Path]) -> None:
    env = {"PATH": str(layout["global"].parent)}
    found = find_cdk(layout["project"], env=env)
    assert found is not None
    assert found.command == (str(layout["above"]),)
    assert found.found == f"node_modules/.bin of {layout['above'].parents[2]}"
    own = _executable(layout["project"] / "node_modules" / ".bin" / "cdk")
    found = find_cdk(layout["project"], env=env)
    assert found is not None and found.command == (str(own),)


def test_a_cdk_on_path_is_found_without_node_modules(tmp_path: Path) -> None:
    cdk = _executable(tmp_path / "bin" / "cdk")
    found = find_cdk(tmp_path / "project", env={"PATH": f"/nonexistent:{cdk.parent}"})
    assert found is not None
    assert (found.command, found.found) == ((str(cdk),), "PATH")
    assert str(found) == f"{cdk} (PATH)"


def test_without_any_cli_there_is_none(tmp_path: Path) -> None:
    assert find_cdk(tmp_path, env={"PATH": str(tmp_path / "empty")}) is None


def test_csm_cdk_and_the_option_win_and_none_means_no_cli(layout: dict[str, Path]) -> None:
    env = {"PATH": str(layout["global"].parent), "CSM_CDK": "cdk --verbose"}
    found = find_cdk(layout["project"], env=env)
    assert found is not None
    assert found.command == (str(layout["global"]), "--verbose")
    assert found.found == "$CSM_CDK"
    explicit = find_cdk(layout["project"], explicit=str(layout["above"]), env=env)
    assert explicit is not None and explicit.command == (str(layout["above"]),)
    assert find_cdk(layout["project"], explicit="none", env=env) is None
    assert find_cdk(layout["project"], env={**env, "CSM_CDK": "NONE"}) is None


@pytest.mark.parametrize("command", ["no-such-cdk-command", "/no/such/cdk synth", ""])
def test_a_named_cli_that_is_not_an_executable_is_refused(command: str) -> None:
    with pytest.raises(CdkNotFoundError, match=r"--cdk is .* which names no executable: install"):
        named_cdk(command, found="--cdk", env={"PATH": "/nonexistent"})


def test_node_hint_only_when_no_node_is_found(tmp_path: Path) -> None:
    assert "Node.js was not found" in node_hint({"PATH": str(tmp_path)})
    assert node_hint({"PATH": str(tmp_path), "JSII_NODE": "/opt/node"}) == ""
    node = _executable(tmp_path / "bin" / "node")
    assert node_hint({"PATH": str(node.parent)}) == ""
