"""Processing jobs as local processes: inputs from S3, the entrypoint, outputs back to S3.

:class:`LocalJob` plays the part of SageMaker Processing for one CreateProcessingJob
request. It lays out a job directory the way a processing container sees ``/opt/ml``::

    <job dir>/config/processingjobconfig.json   the request, as SageMaker writes it
    <job dir>/config/resourceconfig.json        current_host / hosts
    <job dir>/processing/input/<name>/          every object below the input's S3 prefix
    <job dir>/processing/output/<name>/         uploaded to the output's S3 URI afterwards
    <job dir>/logs/stdout.log, stderr.log       what the process printed
    <job dir>/tmp/                              its TMPDIR (a container's /tmp)

downloads every ``ProcessingInput``, runs ``ContainerEntrypoint + ContainerArguments``
as a local process (``python3`` is this interpreter) with the job's ``Environment``, and
uploads each ``ProcessingOutput`` directory. The process sees its job directory as
``/opt/ml``, as a container does: it runs in a private mount namespace with the directory
bound there (:mod:`constructs_sm.local.isolation`), so scripts with fixed
``/opt/ml/processing/...`` paths run unchanged. Where that is not allowed (no root), it
gets ``CSM_ML_DIR=<job dir>`` instead (the bootstrap and :mod:`constructs_sm.runtime`
read every path through it). Paths below ``/opt/ml`` in the request are mapped into the
job directory. A job with ``InstanceCount`` > 1 runs one process per host (``algo-1``,
``algo-2``, ...), each with its own directory; ``ShardedByS3Key`` inputs give each host
its share of the objects.

What is not emulated: the container image (the process runs on this machine with this
Python, so a step must not rely on packages only its image has), ``Pipe`` and
``FastFile`` input modes (inputs are always downloaded, as in ``File`` mode),
``Continuous`` uploads (outputs are uploaded at the end), network isolation, KMS and
instance types.

A job leaves nothing behind: when its process exits, fails, times out
(``MaxRuntimeInSeconds``) or is stopped, every process it started is killed, including
those that left its session (:mod:`constructs_sm.local.processes`). Its outputs are
uploaded only when every host's process exited 0, and then all of them or none: an
upload that fails or is stopped part way removes what it had written, so a later step
never reads a partial output as a complete one. (SageMaker's ``EndOfJob`` mode uploads
"after the job completes", ProcessingS3Output in the API reference; what a job that
fails leaves under its output prefix is not documented, so the engine takes the strict
side: nothing.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final

from constructs_sm.local.isolation import Isolation
from constructs_sm.local.isolation import current as current_isolation
from constructs_sm.local.processes import JobProcesses, wait_any

#: The root SageMaker mounts in a processing container; mapped to the job directory.
CONTAINER_ROOT: Final = PurePosixPath("/opt/ml")
ML_DIR_ENV: Final = "CSM_ML_DIR"
#: FailureReason is at most 1024 characters in the SageMaker API.
MAX_FAILURE_REASON: Final = 1024
_STDERR_TAIL: Final = 800
#: Environment variables of this process that a job inherits (the rest is the job's own).
_INHERITED_ENV: Final = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT")
#: How often a running job's process tree is observed (see processes.JobProcesses).
_OBSERVE_SECONDS: Final = 0.2
#: How long a running job waits for one of its processes to exit before it checks for a
#: stop, the deadline and the process tree again.
_WAIT_SECONDS: Final = 0.05
_COPY_CHUNK: Final = 1024 * 1024


#: SageMaker keeps the first 1 KB of a job's /opt/ml/output/message as its ExitMessage.
MAX_EXIT_MESSAGE: Final = 1024


class JobStoppedError(Exception):
    """The job was stopped (StopProcessingJob) while its process was running."""


@dataclass
class JobOutcome:
    """How a local job ended: ``Completed``, ``Failed`` or ``Stopped``."""

    status: str
    failure_reason: str | None = None
    exit_message: str | None = None
    started: float = 0.0
    ended: float = 0.0
    hosts: list[str] = field(default_factory=list)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``; ``ValueError`` otherwise."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


def relative_key(prefix: str, key: str) -> str:
    """Where an object below an ``S3Prefix`` input lands, relative to the channel directory.

    As SageMaker does, everything up to the last ``/`` of the prefix is dropped:
    prefix ``data/raw/`` and key ``data/raw/2024/a.csv`` give ``2024/a.csv``; prefix
    ``code/abc.zip`` and key ``code/abc.zip`` give ``abc.zip``. A result that would leave
    the channel directory (``..``) raises ``ValueError``.
    """
    base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    relative = key[len(base) :]
    parts = PurePosixPath(relative).parts
    if not relative or relative.endswith("/") or ".." in parts or relative.startswith("/"):
        raise ValueError(f"object key {key!r} cannot be stored below prefix {prefix!r}")
    return relative


def local_path(job_dir: Path, container_path: str) -> Path:
    """Map a container path from the request into the job directory.

    ``/opt/ml/processing/input/raw`` -> ``<job dir>/processing/input/raw``; a path
    outside ``/opt/ml`` goes below ``<job dir>/fs/``.
    """
    path = PurePosixPath(container_path)
    if path == CONTAINER_ROOT or CONTAINER_ROOT in path.parents:
        return job_dir.joinpath(*path.relative_to(CONTAINER_ROOT).parts)
    return job_dir.joinpath("fs", *path.parts[1:])


def last_lines(text: str, limit: int) -> str:
    """The last whole lines of ``text`` that fit in ``limit`` characters.

    A log's tail never starts in the middle of a line; only a last line longer than
    ``limit`` on its own is cut, from its start, and marked with ``...``.
    """
    lines = text.strip().splitlines()
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) + (1 if kept else 0) > limit:
            if not kept:
                kept.append("..." + line[-(limit - 3) :] if limit > 3 else "")
            break
        kept.append(line)
        size += len(line) + (1 if len(kept) > 1 else 0)
    return "\n".join(reversed(kept))


def failure_reason(exit_code: int, stderr_tail: str) -> str:
    """The FailureReason of a job whose process exited with ``exit_code``, within the API's
    1024 characters: the exit code and the last line of its stderr (where Python writes
    the exception), then the whole lines before that line which fit, in their order.

    The first line is what a report shows of it: the exception, not the traceback's last
    frame (``AlgorithmError: process exited with code 1: ValueError: no rows``). On AWS a
    processing job whose program exits non-zero reads ``AlgorithmError: See job logs for
    more information`` (asserted on an account by the integration test ``test_spark_app_error``
    of SageMaker's Spark processing container); the log is in CloudWatch, which the
    engine has not, so its reason carries the log's end instead.
    """
    reason = f"AlgorithmError: process exited with code {exit_code}"
    lines = stderr_tail.strip().splitlines()
    if not lines:
        return reason
    room = MAX_FAILURE_REASON - len(reason) - 2
    last = lines[-1]
    # cut at its end, keeping where it starts: the exception's type (ValueError: ...)
    first = last if len(last) <= room else last[: room - 3] + "..."
    headline = f"{reason}: {first}"
    before = last_lines("\n".join(lines[:-1]), MAX_FAILURE_REASON - len(headline) - 1)
    return f"{headline}\n{before}" if before else headline


def command_line(app_specification: Mapping[str, Any]) -> list[str]:
    """``ContainerEntrypoint + ContainerArguments``, with ``python``/``python3`` as this Python."""
    entrypoint = list(app_specification.get("ContainerEntrypoint") or [])
    arguments = list(app_specification.get("ContainerArguments") or [])
    if not entrypoint:
        raise ValueError(
            "AppSpecification.ContainerEntrypoint is required locally: there is no image "
            "whose default entrypoint could run"
        )
    if entrypoint[0] in ("python", "python3"):
        entrypoint[0] = sys.executable
    return [*entrypoint, *arguments]


def read_tail(path: Path, limit: int) -> str:
    """The end of a log file: about ``limit`` bytes, from the start of a line."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - limit))
            data = handle.read()
    except OSError:
        return ""
    if size > limit:  # the read began inside a line: drop that partial line
        data = data.partition(b"\n")[2]
    return data.decode("utf-8", errors="replace")


class LocalJob:
    """One processing job run on this machine (see the module docstring).

    :param request: the CreateProcessingJob request (API field names).
    :param s3: a boto3 S3 client of the emulator.
    :param work_dir: the job directory is ``<work_dir>/<ProcessingJobName>``.
    :param base_env: extra environment for the process (the job role's credentials,
        region and endpoint); the job's ``Environment`` wins over it.
    :param should_stop: polled while the process runs; True stops the job.
    :param isolation: how the process gets its ``/opt/ml``; by default a private mount
        namespace where allowed (:func:`constructs_sm.local.isolation.current`).
    """

    def __init__(
        self,
        request: Mapping[str, Any],
        *,
        s3: Any,
        work_dir: Path,
        base_env: Mapping[str, str] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        isolation: Isolation | None = None,
    ) -> None:
        self.request = dict(request)
        self.isolation = isolation or current_isolation()
        self.name = str(request["ProcessingJobName"])
        self.job_dir = work_dir / self.name
        self._s3 = s3
        self._base_env = dict(base_env or {})
        self._should_stop = should_stop
        cluster = (request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        self.instance_count = int(cluster.get("InstanceCount", 1))
        self.hosts = [f"algo-{i + 1}" for i in range(self.instance_count)]
        stopping = request.get("StoppingCondition") or {}
        self.max_runtime = float(stopping.get("MaxRuntimeInSeconds", 86400))
        token = uuid.uuid4().hex
        #: The processes of each host (see :mod:`constructs_sm.local.processes`).
        self.processes = {host: JobProcesses(f"{token}-{host}") for host in self.hosts}
        self._killed = threading.Event()

    def kill(self) -> None:
        """Stop the job now, from any thread: every process it started is killed, nothing
        is uploaded, and :meth:`run` ends ``Stopped``."""
        self._killed.set()
        for processes in self.processes.values():
            processes.kill()

    def _stopping(self) -> bool:
        return self._killed.is_set() or self._should_stop()

    def host_dir(self, host: str) -> Path:
        """The ``/opt/ml`` of one host: the job directory itself for a single host."""
        return self.job_dir if self.instance_count == 1 else self.job_dir / host

    # -- the phases ----------------------------------------------------------------

    def run(self) -> JobOutcome:
        """Download, run, upload; never raises for a failing job (see :class:`JobOutcome`)."""
        outcome = JobOutcome(status="InProgress", started=time.time(), hosts=self.hosts)
        try:
            command = command_line(self.request.get("AppSpecification") or {})
            for host in self.hosts:
                self._prepare(host)
            self._download_inputs()
            codes = self._run_processes(command)
            failed = [(host, code) for host, code in codes.items() if code != 0]
            if self._stopping():
                raise JobStoppedError("the job was stopped by StopProcessingJob")
            if failed:
                host, code = failed[0]
                outcome.status = "Failed"
                outcome.failure_reason = failure_reason(
                    code, read_tail(self.host_dir(host) / "logs" / "stderr.log", _STDERR_TAIL)
                )
            else:
                self._upload_outputs()
                outcome.status = "Completed"
        except JobStoppedError:
            outcome.status = "Stopped"
        except subprocess.TimeoutExpired:
            outcome.status = "Failed"
            outcome.failure_reason = (
                f"MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds "
                f"({self.max_runtime:g} s) and was stopped"
            )
        except Exception as error:  # a broken request or S3 problem fails the job, as in AWS
            outcome.status = "Failed"
            outcome.failure_reason = f"ClientError: {error}"[:MAX_FAILURE_REASON]
        outcome.exit_message = self.exit_message()
        outcome.ended = time.time()
        return outcome

    def exit_message(self) -> str | None:
        """The job's ExitMessage as SageMaker makes it: each host's /opt/ml/output/message
        concatenated, then cut to 1 KB ("Save and Access Metadata Information About Your
        Processing Job", SageMaker developer guide); None when no host wrote one."""
        parts = []
        for host in self.hosts:
            message = self.host_dir(host) / "output" / "message"
            if message.is_file():
                parts.append(message.read_bytes())
        if not parts:
            return None
        return b"".join(parts)[:MAX_EXIT_MESSAGE].decode("utf-8", errors="replace")

    def _prepare(self, host: str) -> None:
        root = self.host_dir(host)
        for sub in ("config", "logs", "output", "processing/input", "processing/output", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        config = {
            key: value for key, value in self.request.items() if key not in ("Tags", "RoleArn")
        }
        (root / "config" / "processingjobconfig.json").write_text(
            json.dumps(config, indent=2, default=str)
        )
        resource = {"current_host": host, "hosts": self.hosts, "network_interface_name": "lo"}
        (root / "config" / "resourceconfig.json").write_text(json.dumps(resource, indent=2))
        for output in self._outputs():
            local_path(root, output["LocalPath"]).mkdir(parents=True, exist_ok=True)

    def _inputs(self) -> list[dict[str, Any]]:
        result = []
        for item in self.request.get("ProcessingInputs") or []:
            s3_input = item.get("S3Input")
            if s3_input is None:
                raise ValueError(
                    f"input {item.get('InputName')!r}: only S3Input is supported locally "
                    "(no DatasetDefinition)"
                )
            result.append({"InputName": item["InputName"], **s3_input})
        return result

    def _outputs(self) -> list[dict[str, Any]]:
        config = self.request.get("ProcessingOutputConfig") or {}
        result = []
        for item in config.get("Outputs") or []:
            s3_output = item.get("S3Output")
            if s3_output is None:
                raise ValueError(
                    f"output {item.get('OutputName')!r}: only S3Output is supported locally"
                )
            result.append({"OutputName": item["OutputName"], **s3_output})
        return result

    def _list_keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def _download_inputs(self) -> None:
        for item in self._inputs():
            bucket, prefix = split_s3_uri(item["S3Uri"])
            if item.get("S3DataType", "S3Prefix") == "ManifestFile":
                keys = self._manifest_keys(bucket, prefix)
                pairs = [(b, k, PurePosixPath(k).name) for b, k in keys]
            else:
                keys = [(bucket, k) for k in self._list_keys(bucket, prefix)]
                pairs = [(b, k, relative_key(prefix, k)) for b, k in keys]
            if not pairs:
                raise ValueError(f"input {item['InputName']!r}: no objects under {item['S3Uri']}")
            sharded = item.get("S3DataDistributionType") == "ShardedByS3Key"
            for position, host in enumerate(self.hosts):
                target = local_path(self.host_dir(host), item["LocalPath"])
                target.mkdir(parents=True, exist_ok=True)
                mine = pairs[position :: len(self.hosts)] if sharded else pairs
                for source_bucket, key, relative in mine:
                    path = target.joinpath(*PurePosixPath(relative).parts)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._download(source_bucket, key, path)

    def _download(self, bucket: str, key: str, path: Path) -> None:
        """One object into ``path``: a single GetObject streamed to the file (the
        transfer manager of ``download_file`` starts a thread pool for each object, which
        took twice as long for the small objects of a job's channels)."""
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            with path.open("wb") as handle:
                shutil.copyfileobj(body, handle, _COPY_CHUNK)
        finally:
            body.close()

    def _manifest_keys(self, bucket: str, key: str) -> list[tuple[str, str]]:
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        manifest = json.loads(body)
        if not isinstance(manifest, list) or not manifest or "prefix" not in manifest[0]:
            raise ValueError(f"manifest s3://{bucket}/{key} must be [{{'prefix': ...}}, ...]")
        base_bucket, base_key = split_s3_uri(manifest[0]["prefix"])
        return [(base_bucket, base_key + str(entry)) for entry in manifest[1:]]

    def _environment(self, host: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
        env.update(self._base_env)
        env.update({str(k): str(v) for k, v in (self.request.get("Environment") or {}).items()})
        if not self.isolation.private:  # mapped: the runtime finds /opt/ml through it
            env[ML_DIR_ENV] = str(self.host_dir(host))
        # A container's /tmp ends with it: temporary files stay in the job directory.
        env["TMPDIR"] = str(self.host_dir(host) / "tmp")
        name, token = self.processes[host].marker
        env[name] = token
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        return env

    def _run_processes(self, command: Sequence[str]) -> dict[str, int]:
        """Run one process per host at once; returns each host's exit code.

        A host's leftover processes are killed as soon as its process exits (its container
        would end); everything is killed when the job is stopped or runs out of time.
        """
        processes: dict[str, subprocess.Popen[bytes]] = {}
        #: Hosts whose process exited and whose every process was then killed.
        cleaned: set[str] = set()
        handles = []
        try:
            for host in self.hosts:
                if self._stopping():
                    raise JobStoppedError("the job was stopped by StopProcessingJob")
                root = self.host_dir(host)
                stdout = (root / "logs" / "stdout.log").open("wb")
                stderr = (root / "logs" / "stderr.log").open("wb")
                handles += [stdout, stderr]
                processes[host] = subprocess.Popen(
                    self.isolation.wrap(command, root),
                    cwd=root,
                    env=self._environment(host),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                )
                self.processes[host].add_root(processes[host].pid)
            deadline = time.monotonic() + self.max_runtime
            # First look at the trees once they had time to grow (now they are the roots).
            observed = time.monotonic()
            codes: dict[str, int] = {}
            while len(codes) < len(processes):
                if time.monotonic() - observed > _OBSERVE_SECONDS:
                    observed = time.monotonic()
                    for host in processes.keys() - codes.keys():
                        self.processes[host].observe()
                for host, process in processes.items():
                    if host not in codes and process.poll() is not None:
                        codes[host] = process.returncode
                        self.processes[host].kill()
                        cleaned.add(host)
                if self._stopping():
                    raise JobStoppedError("the job was stopped by StopProcessingJob")
                if len(codes) == len(processes):
                    break
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(list(command), self.max_runtime)
                # Returns as soon as a process exits (a sleep here made each job wait
                # 25 ms on average after its process ended).
                wait_any(processes.values(), _WAIT_SECONDS)
            return codes
        finally:
            for host, process in processes.items():
                if host not in cleaned:  # (a kill looks through the whole process table)
                    self.processes[host].kill()
                if process.poll() is None:
                    process.kill()
                process.wait()
                self.processes[host].forget_root(process.pid)
            for handle in handles:
                handle.close()

    def _upload_outputs(self) -> None:
        """Upload every output, all or nothing: a failure or a stop removes what was written."""
        uploaded: list[tuple[str, str]] = []
        try:
            for item in self._outputs():
                bucket, prefix = split_s3_uri(item["S3Uri"])
                if prefix and not prefix.endswith("/"):
                    prefix += "/"
                for host in self.hosts:
                    source = local_path(self.host_dir(host), item["LocalPath"])
                    for path in sorted(p for p in source.rglob("*") if p.is_file()):
                        if self._stopping():
                            raise JobStoppedError("the job was stopped while uploading")
                        key = prefix + path.relative_to(source).as_posix()
                        uploaded.append((bucket, key))
                        self._s3.upload_file(str(path), bucket, key)
        except BaseException:
            for bucket, key in reversed(uploaded):
                with contextlib.suppress(Exception):
                    self._s3.delete_object(Bucket=bucket, Key=key)
            raise

    def remove(self) -> None:
        """Delete the job directory."""
        shutil.rmtree(self.job_dir, ignore_errors=True)


def run_in_thread(job: LocalJob, done: Callable[[JobOutcome], None]) -> threading.Thread:
    """Start ``job.run()`` in a daemon thread and pass its outcome to ``done``."""

    def target() -> None:
        done(job.run())

    thread = threading.Thread(target=target, name=f"processing-job-{job.name}", daemon=True)
    thread.start()
    return thread
