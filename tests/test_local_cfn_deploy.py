"""constructs_sm.local.cfn_deploy without a running emulator: zipping directory assets,
the order stacks deploy in, the account a stack may name. (Deploys into the emulator are in
tests/test_local_e2e.py, on its emulator; the whole path from a wheel in
tests/test_install.py.)"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from constructs_sm.local import Emulator
from constructs_sm.local.cfn_deploy import AssemblyDeployer, zip_directory
from constructs_sm.local.deploy import CdkDeployer, DeployError, custom_resources
from tests.assemblies import write_assembly


@pytest.fixture
def emulator(tmp_path: Path) -> Emulator:
    """An emulator that is not started (deployers only keep it)."""
    return Emulator(work_dir=tmp_path / "work")


def test_the_cli_deployer_without_a_cli_says_how_to_get_one(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CSM_CDK", raising=False)
    with pytest.raises(DeployError, match=r"no cdk CLI found for .*: install the AWS CDK CLI"):
        CdkDeployer(emulator, project_dir=tmp_path)


def test_a_directory_zips_to_the_same_bytes_with_its_files_and_modes(tmp_path: Path) -> None:
    source = tmp_path / "dir"
    (source / "sub").mkdir(parents=True)
    (source / "b.txt").write_text("b")
    (source / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (source / "sub" / "run.sh").chmod(0o755)
    zip_directory(source, tmp_path / "one.zip")
    (source / "b.txt").touch()  # a new modification time changes nothing
    zip_directory(source, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["b.txt", "sub/run.sh"]
        assert archive.getinfo("sub/run.sh").external_attr >> 16 == 0o755


def test_stacks_deploy_after_the_stacks_they_depend_on(emulator: Emulator, tmp_path: Path) -> None:
    assembly = write_assembly(tmp_path)
    deployer = AssemblyDeployer(emulator, project_dir=tmp_path)
    assert deployer.deploy_order(assembly, ["CsmAsmTop"]) == ["Base", "Top"]
    assert deployer.deploy_order(assembly, ["CsmAsmBase"]) == ["Base"]
    with pytest.raises(DeployError, match="no stack 'Nope'"):
        deployer.deploy_order(assembly, ["Nope"])


def test_a_dependency_cycle_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    assembly = write_assembly(tmp_path)
    manifest = json.loads((assembly / "manifest.json").read_text())
    manifest["artifacts"]["Base"]["dependencies"].append("Top")
    (assembly / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match="stack dependency cycle: Top -> Base -> Top"):
        AssemblyDeployer(emulator, project_dir=tmp_path).deploy_order(assembly, ["CsmAsmTop"])


def test_a_stack_pinned_to_another_account_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    deployer = AssemblyDeployer(emulator, project_dir=tmp_path)
    artifact = {"environment": "aws://111122223333/eu-west-1"}
    with pytest.raises(DeployError, match="pinned to account 111122223333; the emulator has"):
        deployer.stack_region(artifact, "S")
    assert deployer.stack_region({"environment": f"aws://{emulator.account}/eu-west-1"}, "S") == (
        "eu-west-1"
    )
    assert deployer.stack_region({}, "S") == emulator.region


def test_an_assembly_directory_is_used_as_it_is(emulator: Emulator, tmp_path: Path) -> None:
    assembly = write_assembly(tmp_path)
    deployer = AssemblyDeployer(emulator, project_dir=tmp_path, app=str(assembly))
    assert deployer.synth(tmp_path / "unused") == assembly
    assert not (tmp_path / "unused").exists()


def test_custom_resources_are_found_by_type() -> None:
    template = {
        "Resources": {
            "A": {"Type": "Custom::VpcRestrictDefaultSG"},
            "B": {"Type": "AWS::CloudFormation::CustomResource"},
            "C": {"Type": "AWS::S3::Bucket"},
        }
    }
    assert custom_resources(template) == [
        "A (Custom::VpcRestrictDefaultSG)",
        "B (AWS::CloudFormation::CustomResource)",
    ]
    assert custom_resources({}) == []
