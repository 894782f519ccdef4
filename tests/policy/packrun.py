"""A policy pack's program started the way the Pulumi engine starts it: run the pack's folder, read the port
it prints, connect the analyzer's gRPC client; stopped (and its pipes closed) when the block ends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def running_pack(argv: Sequence[str], cwd: Path, env: Mapping[str, str], what: str) -> Iterator[Any]:
    """The AnalyzerStub of the pack `argv` starts; `what` names it when it prints no port."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    process = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env))
    try:
        line = process.stdout.readline().decode().strip() if process.stdout else ""
        if not line.isdigit():
            error = process.stderr.read().decode() if process.stderr and process.poll() is not None else ""
            pytest.fail(f"{what} printed no port: {line!r} {error}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
