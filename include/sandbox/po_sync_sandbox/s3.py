"""S3 and SQS through moto's server mode, so boto3 / the Amazon provider talk to it over real HTTP."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from po_sync_sandbox._net import LOOPBACK
from po_sync_sandbox.base import ServiceInfo

log = logging.getLogger(__name__)

#: Sandbox-only credentials; moto accepts any, but clients must send something SigV4-shaped.
ACCESS_KEY_ID = "sandbox-access-key"
SECRET_ACCESS_KEY = "sandbox-secret-key"
REGION = "us-east-1"
#: moto's default account; queue URLs look like ``<endpoint>/123456789012/<queue>``.
ACCOUNT_ID = "123456789012"


class MotoService:
    """moto's ``ThreadedMotoServer`` on loopback, serving every moto backend (po-sync uses S3 and SQS).

    State lives in memory only: a restart starts with no buckets or queues, like a fresh account.

    :param port: TCP port to listen on; ``0`` lets the kernel pick a free one.
    :param conn_id: Airflow connection id to emit for it.
    """

    name = "s3"

    def __init__(self, port: int = 0, conn_id: str = "aws_default") -> None:
        self.port = port
        self.conn_id = conn_id
        self._server: Any = None
        self.endpoint_url: str | None = None

    def start(self, state_dir: Path) -> ServiceInfo:
        """Start the server thread and return once it accepts connections.

        :param state_dir: sandbox state directory (unused: moto keeps state in memory).
        """
        from moto.server import ThreadedMotoServer  # heavy import, only when the service is wanted

        server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.port = port
        self.endpoint_url = f"http://{host}:{port}"
        log.info("moto (S3/SQS) listening on %s", self.endpoint_url)
        return self.info()

    def info(self) -> ServiceInfo:
        """Describe the running server: endpoint, credentials, and the ``aws`` Airflow connection."""
        if self.endpoint_url is None:
            raise RuntimeError("MotoService is not started")
        connection = {
            "conn_type": "aws",
            "login": ACCESS_KEY_ID,
            "password": SECRET_ACCESS_KEY,
            "extra": {
                "endpoint_url": self.endpoint_url,
                "region_name": REGION,
                # The provider's test_connection() calls STS without the global endpoint_url
                # (connection_wrapper.get_service_endpoint_url); point STS at moto explicitly.
                "service_config": {"sts": {"endpoint_url": self.endpoint_url}},
            },
        }
        return ServiceInfo(
            name=self.name,
            endpoints={"url": self.endpoint_url, "s3": self.endpoint_url, "sqs": self.endpoint_url},
            credentials={
                "aws_access_key_id": ACCESS_KEY_ID,
                "aws_secret_access_key": SECRET_ACCESS_KEY,
                "region_name": REGION,
                "account_id": ACCOUNT_ID,
            },
            connections={self.conn_id: connection},
        )

    def stop(self) -> None:
        """Shut the HTTP server down and join its thread; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
