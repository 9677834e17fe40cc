"""The container image a processing step runs, and the IAM needed to pull it.

SageMaker Processing pulls images from Amazon ECR private repositories only, so every
source resolves to an ECR repository ARN that :meth:`ProcessingImage.grant_pull` scopes
the pull permissions to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from aws_cdk import Aws, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_sm.policies import named_grant, sid_hash
from constructs_sm.roles import attach_wildcard_policy

__all__ = ["ProcessingImage"]

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REPOSITORY_NAME = r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
_ECR_IMAGE_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r"\.(?P<domain>amazonaws\.com(?:\.cn)?)"
    rf"/(?P<name>{_REPOSITORY_NAME})"
    rf"(?::(?P<tag>{_TAG.pattern})|@(?P<digest>{_DIGEST.pattern}))?"
)
_ECR_URI_FORMAT = "ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPOSITORY[:TAG|@sha256:DIGEST]"
_MAX_IMAGE_URI_LENGTH = 255  # AppSpecification.ImageUri of CreateProcessingJob
_MAX_REPOSITORY_NAME_LENGTH = 256
_BUILD_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
)
_AUTHORIZATION_ACTIONS = ("ecr:GetAuthorizationToken",)


class ProcessingImage:
    """How a step's container image is obtained; create one with a ``from_*`` factory.

    * :meth:`from_asset` builds a local Dockerfile into the CDK bootstrap ECR repository
      at deploy time;
    * :meth:`from_repository` uses a tag or digest of an ECR repository;
    * :meth:`from_registry` uses an Amazon ECR image URI.

    Instances are immutable and can be shared by any number of steps.
    """

    __slots__ = ("_asset", "_description", "_image_uri", "_repository", "_repository_arn")

    _asset: ecr_assets.DockerImageAsset | None
    _description: str
    _image_uri: str
    _repository: ecr.IRepository | None
    _repository_arn: str

    def __init__(
        self,
        *,
        image_uri: str,
        repository_arn: str,
        repository: ecr.IRepository | None = None,
        asset: ecr_assets.DockerImageAsset | None = None,
        description: str | None = None,
    ) -> None:
        """Prefer the ``from_*`` factories, which validate their input.

        :param image_uri: the URI the job's AppSpecification uses.
        :param repository_arn: the ECR repository the image is pulled from.
        :param repository: the repository, when known as a construct.
        :param asset: the asset that builds the image, if any.
        :param description: what ``repr()`` shows; by default the image URI.
        """
        for name, value in (
            ("_asset", asset),
            ("_description", description or f"ProcessingImage(image_uri={image_uri!r})"),
            ("_image_uri", image_uri),
            ("_repository", repository),
            ("_repository_arn", repository_arn),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def from_asset(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        directory: str,
        file: str | None = None,
        build_args: Mapping[str, str] | None = None,
        platform: ecr_assets.Platform = ecr_assets.Platform.LINUX_AMD64,
    ) -> ProcessingImage:
        """Build ``directory``'s Dockerfile as a CDK Docker image asset.

        Synthesis only stages the directory (no Docker engine needed); ``cdk deploy`` builds
        the image and pushes it to the bootstrap ECR repository.

        :param scope: the parent of the created ``DockerImageAsset``.
        :param construct_id: the asset's construct id.
        :param directory: the build context, relative to the working directory.
        :param file: the Dockerfile's path relative to ``directory``; ``Dockerfile`` by
            default.
        :param build_args: ``--build-arg`` values (literal strings, no tokens); none by
            default.
        :param platform: the target platform; ``linux/amd64`` by default, which every
            SageMaker Processing instance type runs.
        :raises ValueError: if ``directory`` or the Dockerfile does not exist, ``file`` is
            not inside ``directory``, or a build argument is a token or has an invalid name.
        """
        context = Path(directory)
        if not context.is_dir():
            raise ValueError(
                f"directory must be an existing directory, got {directory!r} "
                f"(resolved to {str(context.resolve())!r})"
            )
        if file is not None:
            dockerfile = context / file
            if Path(file).is_absolute() or not dockerfile.resolve().is_relative_to(
                context.resolve()
            ):
                raise ValueError(
                    f"file must be a path relative to and inside directory {directory!r}, "
                    f"got {file!r}"
                )
            if not dockerfile.is_file():
                raise ValueError(
                    f"file {file!r} does not exist in directory {directory!r} "
                    f"(looked for {str(dockerfile)!r})"
                )
        else:
            dockerfile = context / "Dockerfile"
            if not dockerfile.is_file():
                raise ValueError(
                    f"directory {directory!r} has no Dockerfile (looked for "
                    f"{str(dockerfile)!r}); pass file= to use another name"
                )
        problems = [
            f"{key!r} must be a literal string matching {_BUILD_ARG_NAME.pattern}"
            for key in build_args or {}
            if Token.is_unresolved(key) or not _BUILD_ARG_NAME.fullmatch(key)
        ] + [
            f"{key!r} has a token value (build args are resolved before deployment)"
            for key, value in (build_args or {}).items()
            if Token.is_unresolved(value)
        ]
        if problems:
            raise ValueError(f"build_args: {'; '.join(problems)}")

        asset = ecr_assets.DockerImageAsset(
            scope,
            construct_id,
            directory=directory,
            file=file,
            build_args=dict(build_args) if build_args else None,
            platform=platform,
        )
        shown = f"directory={directory!r}" + (f", file={file!r}" if file is not None else "")
        return cls(
            image_uri=asset.image_uri,
            repository_arn=asset.repository.repository_arn,
            repository=asset.repository,
            asset=asset,
            description=f"ProcessingImage.from_asset({shown})",
        )

    @classmethod
    def from_repository(
        cls,
        repository: ecr.IRepository,
        *,
        tag: str = "latest",
        digest: str | None = None,
    ) -> ProcessingImage:
        """Use an image of an ECR repository, by tag or (preferably, immutable) by digest.

        :param repository: the repository, e.g. ``ecr.Repository.from_repository_name(...)``.
        :param tag: the image tag; ``latest`` by default (ignored when ``digest`` is given).
        :param digest: the image digest ``sha256:<64 hex>``; pins the exact image.
        :raises ValueError: if ``tag`` or ``digest`` is malformed, or both a non-default
            ``tag`` and a ``digest`` are given.
        """
        problems = []
        if not Token.is_unresolved(tag) and not _TAG.fullmatch(tag):
            problems.append(f"tag must match {_TAG.pattern}, got {tag!r}")
        if digest is not None:
            if not Token.is_unresolved(digest) and not _DIGEST.fullmatch(digest):
                problems.append(f"digest must match {_DIGEST.pattern}, got {digest!r}")
            if tag != "latest":
                problems.append(f"pass either tag or digest, not both (tag={tag!r})")
        if problems:
            raise ValueError("; ".join(problems))
        if digest is not None:
            image_uri = repository.repository_uri_for_digest(digest)
            reference = f"digest={digest!r}"
        else:
            image_uri = repository.repository_uri_for_tag(tag)
            reference = f"tag={tag!r}"
        return cls(
            image_uri=image_uri,
            repository_arn=repository.repository_arn,
            repository=repository,
            description=f"ProcessingImage.from_repository({repository.node.path!r}, {reference})",
        )

    @classmethod
    def from_registry(cls, uri: str) -> ProcessingImage:
        """Use an Amazon ECR image URI.

        For example ``123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag``.

        The repository ARN for :meth:`grant_pull` is built from the URI's account, region
        and repository name, in the stack's partition. An image in another account needs a
        repository policy that lets this account pull.

        :param uri: ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY`` followed by
            ``:TAG`` or ``@sha256:DIGEST`` (no suffix means ``latest``); China regions use
            ``amazonaws.com.cn``.
        :raises ValueError: if ``uri`` is not an Amazon ECR private image URI (SageMaker
            Processing pulls from Amazon ECR only) or is a token.
        """
        if not isinstance(uri, str):
            raise TypeError(f"uri must be a str, got {type(uri).__name__}: {uri!r}")
        if Token.is_unresolved(uri):
            raise ValueError(
                "uri must be a literal ECR image URI, got a token (its repository cannot be "
                "known at synth time); use ProcessingImage.from_repository(...) instead"
            )
        match = _ECR_IMAGE_URI.fullmatch(uri)
        if match is None:
            _invalid_uri(uri, f"it must look like {_ECR_URI_FORMAT}")
        problems = []
        if len(uri) > _MAX_IMAGE_URI_LENGTH:
            problems.append(f"it is longer than {_MAX_IMAGE_URI_LENGTH} characters")
        if len(match["name"]) > _MAX_REPOSITORY_NAME_LENGTH:
            problems.append(
                f"its repository name is longer than {_MAX_REPOSITORY_NAME_LENGTH} characters"
            )
        china_region = match["region"].startswith("cn-")
        if china_region != match["domain"].endswith(".cn"):
            problems.append(
                "China regions (cn-*) use the amazonaws.com.cn domain and other regions "
                "use amazonaws.com"
            )
        if problems:
            _invalid_uri(uri, "; ".join(problems))
        repository_arn = (
            f"arn:{Aws.PARTITION}:ecr:{match['region']}:{match['account']}"
            f":repository/{match['name']}"
        )
        return cls(
            image_uri=uri,
            repository_arn=repository_arn,
            description=f"ProcessingImage.from_registry({uri!r})",
        )

    @property
    def image_uri(self) -> str:
        """The image URI a processing job runs (a token for assets and repositories)."""
        return self._image_uri

    @property
    def repository(self) -> ecr.IRepository | None:
        """The ECR repository, when it is known as a construct (not for ``from_registry``)."""
        return self._repository

    @property
    def repository_arn(self) -> str:
        """The ARN of the ECR repository the image is pulled from (may be a token)."""
        return self._repository_arn

    @property
    def asset(self) -> ecr_assets.DockerImageAsset | None:
        """The Docker image asset, for images made with :meth:`from_asset`."""
        return self._asset

    def grant_pull(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` (e.g. a SageMaker execution role) pull this image.

        Adds ``ecr:BatchCheckLayerAvailability``, ``ecr:GetDownloadUrlForLayer`` and
        ``ecr:BatchGetImage`` on this image's repository, and ``ecr:GetAuthorizationToken``
        on ``*`` to the grantee's identity policy.
        """
        named_grant(
            grantee,
            f"PullImage{sid_hash(self._repository_arn)}",
            actions=_PULL_ACTIONS,
            resources=[self._repository_arn],
        )
        # ecr:GetAuthorizationToken supports no resource-level permissions: IAM requires
        # Resource "*" for it. The token alone grants no access to any repository. A role
        # of the app gets it as a policy of its own, whose finding alone is acknowledged.
        role = grantee.grant_principal
        statement = iam.PolicyStatement(
            sid="EcrAuthorizationToken", actions=list(_AUTHORIZATION_ACTIONS), resources=["*"]
        )
        if isinstance(role, iam.Role):
            attach_wildcard_policy(
                role,
                "EcrAuthorizationPolicy",
                statement,
                "ecr:GetAuthorizationToken supports no resource-level permission (IAM "
                "requires Resource '*'); the token grants no access by itself, image pulls "
                "are limited to the image's repository.",
            )
        else:
            grantee.grant_principal.add_to_principal_policy(statement)

    def __repr__(self) -> str:
        return self._description

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"ProcessingImage is immutable, cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"ProcessingImage is immutable, cannot delete {name!r}")


def _invalid_uri(uri: str, why: str) -> NoReturn:
    raise ValueError(
        "uri must be an Amazon ECR private image URI: SageMaker Processing pulls images from "
        f"Amazon ECR only; {why}; got {uri!r}"
    )
