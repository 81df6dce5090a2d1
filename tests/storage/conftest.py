"""Object stores for the contract tests: filesystem, S3 (moto's server on loopback over
real HTTP through the minio SDK) and, when POLIS_TEST_S3_ENDPOINT is set, a real MinIO."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.filesystem import FilesystemStore
from storage.s3 import S3Store


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def _minio_params() -> dict[str, object] | None:
    endpoint = os.environ.get("POLIS_TEST_S3_ENDPOINT")
    if not endpoint:
        return None
    return {
        "endpoint": endpoint,
        "access_key": os.environ.get("POLIS_TEST_S3_ACCESS_KEY", "minioadmin"),
        "secret_key": os.environ.get("POLIS_TEST_S3_SECRET_KEY", "minioadmin"),
        "secure": os.environ.get("POLIS_TEST_S3_SECURE", "false") == "true",
    }


BACKENDS = ["filesystem", "s3-moto", "s3-minio"]


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **options: object):
    """A fresh store of ``kind`` (a new directory or bucket per test)."""
    if kind == "filesystem":
        return FilesystemStore(tmp_path / "objects", secret="contract-secret", base_url="http://polis.test")
    bucket = f"polis-{uuid.uuid4().hex[:12]}"
    if kind == "s3-moto":
        endpoint = request.getfixturevalue("moto_endpoint")
        return S3Store(
            endpoint=endpoint, access_key="test", secret_key="test", bucket=bucket, secure=False, **options
        )
    params = _minio_params()
    if params is None:
        pytest.skip("set POLIS_TEST_S3_ENDPOINT (and _ACCESS_KEY/_SECRET_KEY) to run against a real MinIO")
    return S3Store(bucket=bucket, **params, **options)  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path):
    """Each contract test runs once per backend."""
    return make_store(request.param, tmp_path, request)


@pytest.fixture
def app_for_store(test_settings, session_factory):
    """A Flask app serving a given store's /files/ links."""
    from web.app import create_app

    def build(store):
        application = create_app(test_settings, session_factory=session_factory, store=store)
        application.config["TESTING"] = True
        return application

    return build
