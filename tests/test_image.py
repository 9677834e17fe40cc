"""Tests for constructs_sm.image.ProcessingImage.

One module-scoped App holds every image source and one role per source; it is synthesized
once. Validation tests need no synthesis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Aws, CfnOutput, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from constructs_sm.image import ProcessingImage
from constructs_sm.policies import sid_hash
from tests.cfn import logical_id, role_statements

DIGEST = "sha256:" + "0123456789abcdef" * 4
REGISTRY_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/trainer:v1.2"
CHINA_URI = f"210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/trainer@{DIGEST}"
PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
]
Json = dict[str, Any]


def _pull_statements(repository_arn: Any, image: ProcessingImage | None = None) -> list[Json]:
    """The pull statements, each with its Sid (the pull's names the repository by a hash
    of its ARN; any such hash without ``image``)."""
    pull_sid: Any = (
        f"PullImage{sid_hash(image.repository_arn)}"
        if image is not None
        else Match.string_like_regexp(r"^PullImage[0-9a-f]{8}$")
    )
    return [
        {"Action": PULL_ACTIONS, "Effect": "Allow", "Resource": repository_arn, "Sid": pull_sid},
        {
            "Action": "ecr:GetAuthorizationToken",
            "Effect": "Allow",
            "Resource": "*",
            "Sid": "EcrAuthorizationToken",
        },
    ]


def _sorted(statements: list[Json]) -> list[Json]:
    return sorted(statements, key=lambda s: json.dumps(s, sort_keys=True))


def _partition_arn(rest: str) -> Json:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, rest]]}


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("image")
    (directory / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (directory / "gpu").mkdir()
    (directory / "gpu" / "Dockerfile.gpu").write_text("FROM python:3.11\n")
    return directory


@dataclass(frozen=True)
class Built:
    app: App
    stack: Stack
    template: Template
    images: dict[str, ProcessingImage]
    roles: dict[str, iam.Role]
    repository: ecr.Repository


@pytest.fixture(scope="module")
def built(image_dir: Path) -> Built:
    app = App()
    stack = Stack(app, "Images")
    repository = ecr.Repository(stack, "Repo")
    images = {
        "asset": ProcessingImage.from_asset(
            stack,
            "Asset",
            directory=str(image_dir),
            build_args={"PYTHON_VERSION": "3.11"},
        ),
        "tag": ProcessingImage.from_repository(repository, tag="v1"),
        "digest": ProcessingImage.from_repository(repository, digest=DIGEST),
        "registry": ProcessingImage.from_registry(REGISTRY_URI),
        "china": ProcessingImage.from_registry(CHINA_URI),
    }
    roles = {}
    for name, image in images.items():
        roles[name] = iam.Role(
            stack, f"{name}Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
        )
        image.grant_pull(roles[name])
        CfnOutput(stack, f"{name}Uri", value=image.image_uri)
    return Built(
        app=app,
        stack=stack,
        template=Template.from_stack(stack),
        images=images,
        roles=roles,
        repository=repository,
    )


def _output(built: Built, name: str) -> Any:
    return built.template.to_json()["Outputs"][f"{name}Uri"]["Value"]


# --- from_asset ---------------------------------------------------------------------------


def test_asset_image_uri_is_the_asset_in_the_bootstrap_repository(
    built: Built, image_dir: Path
) -> None:
    image = built.images["asset"]
    assert image.asset is not None
    assert image.repository is not None
    built.template.has_output(
        "assetUri",
        {
            "Value": {
                "Fn::Sub": Match.string_like_regexp(
                    r"^\$\{AWS::AccountId\}\.dkr\.ecr\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/"
                    rf"cdk-\w+-container-assets-.*:{image.asset.asset_hash}$"
                )
            }
        },
    )
    assert repr(image) == f"ProcessingImage.from_asset(directory={str(image_dir)!r})"


def test_asset_is_built_for_linux_amd64_with_the_build_args(built: Built) -> None:
    image = built.images["asset"]
    assert image.asset is not None
    manifest = json.loads(
        Path(built.app.synth().directory, "Images.assets.json").read_text(encoding="utf-8")
    )
    source = manifest["dockerImages"][image.asset.asset_hash]["source"]
    assert source["platform"] == "linux/amd64"
    assert source["dockerBuildArgs"] == {"PYTHON_VERSION": "3.11"}
    assert "dockerFile" not in source


def test_asset_grant_pull_is_scoped_to_the_bootstrap_repository(built: Built) -> None:
    repository_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecr:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":repository/",
                {"Fn::Sub": Match.string_like_regexp(r"^cdk-\w+-container-assets-")},
            ],
        ]
    }
    role = [{"Ref": logical_id(built.stack, built.roles["asset"])}]
    pull, authorization = _pull_statements(repository_arn)
    built.template.has_resource_properties(
        "AWS::IAM::Policy", {"PolicyDocument": {"Statement": [pull]}, "Roles": role}
    )
    # The token action needs Resource "*": a dedicated policy, acknowledged on its own.
    built.template.has_resource_properties(
        "AWS::IAM::Policy", {"PolicyDocument": {"Statement": [authorization]}, "Roles": role}
    )


def test_asset_with_a_dockerfile_in_a_subdirectory(image_dir: Path) -> None:
    image = ProcessingImage.from_asset(
        Stack(App(), "Sub"), "Gpu", directory=str(image_dir), file="gpu/Dockerfile.gpu"
    )
    assert image.asset is not None
    assert repr(image) == (
        f"ProcessingImage.from_asset(directory={str(image_dir)!r}, file='gpu/Dockerfile.gpu')"
    )


# --- from_repository ----------------------------------------------------------------------


def _repository_uri(built: Built, suffix: str) -> Json:
    repository_id = logical_id(built.stack, built.repository)
    arn_part = {"Fn::Split": [":", {"Fn::GetAtt": [repository_id, "Arn"]}]}
    return {
        "Fn::Join": [
            "",
            [
                {"Fn::Select": [4, arn_part]},
                ".dkr.ecr.",
                {"Fn::Select": [3, arn_part]},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/",
                {"Ref": repository_id},
                suffix,
            ],
        ]
    }


@pytest.mark.parametrize(("name", "suffix"), [("tag", ":v1"), ("digest", f"@{DIGEST}")])
def test_repository_image_uri_uses_the_tag_or_digest(built: Built, name: str, suffix: str) -> None:
    assert _output(built, name) == _repository_uri(built, suffix)
    assert built.images[name].repository is built.repository
    assert built.images[name].asset is None


@pytest.mark.parametrize("name", ["tag", "digest"])
def test_repository_grant_pull_is_scoped_to_the_repository(built: Built, name: str) -> None:
    repository_arn = {"Fn::GetAtt": [logical_id(built.stack, built.repository), "Arn"]}
    assert _sorted(role_statements(built.template, built.stack, built.roles[name])) == _sorted(
        _pull_statements(repository_arn, built.images[name])
    )


def test_repository_image_repr(built: Built) -> None:
    assert repr(built.images["tag"]) == "ProcessingImage.from_repository('Images/Repo', tag='v1')"
    assert repr(built.images["digest"]) == (
        f"ProcessingImage.from_repository('Images/Repo', digest={DIGEST!r})"
    )


# --- from_registry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "uri", "arn_rest"),
    [
        ("registry", REGISTRY_URI, ":ecr:us-east-1:123456789012:repository/team/trainer"),
        ("china", CHINA_URI, ":ecr:cn-north-1:210987654321:repository/trainer"),
    ],
)
def test_registry_image_pulls_from_exactly_the_uris_repository(
    built: Built, name: str, uri: str, arn_rest: str
) -> None:
    image = built.images[name]
    assert image.image_uri == uri
    assert image.repository is None
    assert image.asset is None
    assert _output(built, name) == uri
    assert built.stack.resolve(image.repository_arn) == _partition_arn(arn_rest)
    assert _sorted(role_statements(built.template, built.stack, built.roles[name])) == _sorted(
        _pull_statements(_partition_arn(arn_rest), image)
    )
    assert repr(image) == f"ProcessingImage.from_registry({uri!r})"


def test_no_pull_grant_hard_codes_the_partition(built: Built) -> None:
    policies = built.template.find_resources("AWS::IAM::Policy")
    assert len(policies) == 2 * len(built.roles)  # the pull grant and the token policy
    assert "arn:aws" not in str(policies)


@pytest.mark.parametrize(
    "uri",
    [
        "123456789012.dkr.ecr.eu-central-1.amazonaws.com/repo",
        "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/a/b-c_d.e:latest",
        f"123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/repo@{DIGEST}",
    ],
)
def test_registry_accepts_ecr_uris(uri: str) -> None:
    assert ProcessingImage.from_registry(uri).image_uri == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("python:3.11", r"Amazon ECR only; it must look like ACCOUNT\.dkr\.ecr\.REGION"),
        ("docker.io/library/python:3.11", r"got 'docker\.io/library/python:3\.11'"),
        ("public.ecr.aws/docker/library/python:3.11", r"SageMaker Processing pulls images from"),
        ("12345.dkr.ecr.us-east-1.amazonaws.com/repo:v1", r"it must look like"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/Repo:v1", r"it must look like"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:-v1", r"it must look like"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:abc", r"it must look like"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com/repo", r"China regions \(cn-\*\) use"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com.cn/repo", r"China regions \(cn-\*\) use"),
        (
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{'r' * 250}",
            r"longer than 255 characters",
        ),
    ],
)
def test_registry_rejects_non_ecr_or_malformed_uris(uri: str, message: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^uri must be an Amazon ECR private image URI.*{message}"
    ):
        ProcessingImage.from_registry(uri)


def test_registry_rejects_tokens_and_non_strings() -> None:
    with pytest.raises(ValueError, match=r"uri must be a literal ECR image URI, got a token"):
        ProcessingImage.from_registry(f"{Aws.ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/r:v1")
    with pytest.raises(TypeError, match=r"uri must be a str, got int"):
        ProcessingImage.from_registry(42)  # type: ignore[arg-type]


# --- validation of from_repository and from_asset -----------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Stack:
    """A stack for validation tests; never synthesized."""
    return Stack(App(), "Scratch")


@pytest.fixture(scope="module")
def scratch_repository(scratch: Stack) -> ecr.IRepository:
    return ecr.Repository.from_repository_name(scratch, "Repo", "team/trainer")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tag": "-v1"}, r"^tag must match \[A-Za-z0-9_\]\[A-Za-z0-9_\.-\]\{0,127\}, got '-v1'$"),
        ({"tag": "v" * 129}, r"^tag must match .*, got 'vvv"),
        ({"tag": ""}, r"^tag must match .*, got ''$"),
        (
            {"digest": "sha256:abc"},
            r"^digest must match sha256:\[0-9a-f\]\{64\}, got 'sha256:abc'$",
        ),
        ({"digest": DIGEST.upper()}, r"^digest must match"),
        ({"tag": "v1", "digest": DIGEST}, r"^pass either tag or digest, not both \(tag='v1'\)$"),
        (
            {"tag": "v 1", "digest": "md5:x"},
            r"^tag must match .*; digest must match .*; pass either",
        ),
    ],
)
def test_repository_rejects_bad_tags_and_digests(
    scratch_repository: ecr.IRepository, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProcessingImage.from_repository(scratch_repository, **kwargs)


def test_repository_accepts_token_tags_and_digests(scratch_repository: ecr.IRepository) -> None:
    by_tag = ProcessingImage.from_repository(scratch_repository, tag=Aws.STACK_NAME)
    by_digest = ProcessingImage.from_repository(scratch_repository, digest=Aws.STACK_NAME)
    assert by_tag.image_uri != by_digest.image_uri


def test_asset_rejects_a_missing_directory(scratch: Stack, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(
        ValueError, match=r"^directory must be an existing directory, got '.*missing'"
    ):
        ProcessingImage.from_asset(scratch, "Missing", directory=str(missing))
    assert scratch.node.try_find_child("Missing") is None


def test_asset_rejects_a_directory_without_dockerfile(scratch: Stack, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"^directory '.*' has no Dockerfile \(looked for '.*Dockerfile'\); pass file=",
    ):
        ProcessingImage.from_asset(scratch, "Empty", directory=str(tmp_path))
    assert scratch.node.try_find_child("Empty") is None


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            "Dockerfile.missing",
            r"^file 'Dockerfile.missing' does not exist in directory '.*' \(looked for",
        ),
        (
            "../Dockerfile",
            r"^file must be a path relative to and inside directory '.*', got '\.\./Dockerfile'",
        ),
        ("/etc/hostname", r"^file must be a path relative to and inside directory"),
    ],
)
def test_asset_rejects_a_bad_dockerfile_path(
    scratch: Stack, image_dir: Path, file: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProcessingImage.from_asset(scratch, "BadFile", directory=str(image_dir / "gpu"), file=file)
    assert scratch.node.try_find_child("BadFile") is None


@pytest.mark.parametrize(
    ("build_args", "message"),
    [
        (
            {"PYTHON-VERSION": "3.11"},
            r"^build_args: 'PYTHON-VERSION' must be a literal string matching",
        ),
        ({"REGION": Aws.REGION}, r"^build_args: 'REGION' has a token value"),
        ({"": "x", "OK": Aws.REGION}, r"^build_args: '' must be .*; 'OK' has a token value"),
    ],
)
def test_asset_rejects_bad_build_args(
    scratch: Stack, image_dir: Path, build_args: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProcessingImage.from_asset(
            scratch, "BadArgs", directory=str(image_dir), build_args=build_args
        )
    assert scratch.node.try_find_child("BadArgs") is None


# --- immutability -------------------------------------------------------------------------


def test_images_are_immutable() -> None:
    image = ProcessingImage.from_registry(REGISTRY_URI)
    with pytest.raises(AttributeError):
        image.image_uri = "other"  # type: ignore[misc]
    with pytest.raises(
        AttributeError, match="ProcessingImage is immutable, cannot set '_image_uri'"
    ):
        image._image_uri = "other"
    with pytest.raises(AttributeError, match="ProcessingImage is immutable, cannot set 'extra'"):
        image.extra = 1
    with pytest.raises(AttributeError, match="cannot delete '_image_uri'"):
        del image._image_uri
    assert image.image_uri == REGISTRY_URI
