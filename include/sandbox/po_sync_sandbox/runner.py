"""Start a set of stand-ins together and publish what they serve (endpoints + Airflow connections).

Adding a stand-in is one line in :data:`SERVICE_FACTORIES`, e.g.
``"netsuite": lazy("po_sync_sandbox.netsuite:NetsuiteService"),``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from po_sync_sandbox.base import SandboxService, ServiceInfo, connection_env

log = logging.getLogger(__name__)

ENDPOINTS_FILE = "endpoints.json"
CONNECTIONS_ENV_FILE = "connections.env"
CONNECTIONS_JSON_FILE = "connections.json"
PUBLISHED_FILES = (ENDPOINTS_FILE, CONNECTIONS_ENV_FILE, CONNECTIONS_JSON_FILE)


def lazy(target: str, **kwargs: Any) -> Callable[[], SandboxService]:
    """Return a factory importing ``"module:Class"`` only when the service is started.

    Keeps heavy imports (moto, asyncssh) out of processes that never start those services.

    :param target: ``"package.module:ClassName"``.
    :param kwargs: keyword arguments for the class.
    """
    module_name, _, attr = target.partition(":")

    def factory() -> SandboxService:
        cls = getattr(importlib.import_module(module_name), attr)
        service: SandboxService = cls(**kwargs)
        return service

    factory.__qualname__ = f"lazy({target!r})"
    return factory


#: Every stand-in the sandbox knows, in start order. ``Sandbox()`` starts them all by default.
SERVICE_FACTORIES: dict[str, Callable[[], SandboxService]] = {
    "s3": lazy("po_sync_sandbox.s3:MotoService"),
    "sftp": lazy("po_sync_sandbox.sftp:SftpService"),
    "smtp": lazy("po_sync_sandbox.smtp:SmtpService"),
    "netsuite": lazy("po_sync_sandbox.netsuite.service:NetSuiteService"),
    "xseries": lazy("po_sync_sandbox.xseries.service:XSeriesService"),
    "onetrail_sftp": lazy("po_sync_sandbox.onetrail.sftp:OnetrailSftpService"),
    "servicenow": lazy("po_sync_sandbox.servicenow.service:ServiceNowService"),
}


def _write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` via a temp file and rename, so readers never see half a file.

    Mode 0600 because the files carry (sandbox) credentials.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def render_connections_env(connections: dict[str, dict[str, Any]]) -> str:
    """Render ``export AIRFLOW_CONN_<ID>='<json>'`` lines, sourceable by ``sh``.

    :param connections: ``{conn_id: connection-json}``.
    """
    lines = []
    for key, value in sorted(connection_env(connections).items()):
        quoted = value.replace("'", "'\"'\"'")
        lines.append(f"export {key}='{quoted}'")
    return "\n".join(lines) + "\n"


class Sandbox:
    """A started set of stand-ins sharing one state directory.

    Use as a context manager, or call :meth:`start` / :meth:`stop`. On start it writes
    ``endpoints.json`` (last, so its presence means ready), ``connections.env`` and
    ``connections.json``; on stop it removes them again, so they exist only while the servers do.

    :param state_dir: directory for keys, served files, received mail and the published files.
    :param services: names from :data:`SERVICE_FACTORIES` (default: all of them), or service objects.
    """

    def __init__(
        self, state_dir: str | Path = ".sandbox", services: Iterable[str | SandboxService] | None = None
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        wanted = list(SERVICE_FACTORIES) if services is None else list(services)
        unknown = [s for s in wanted if isinstance(s, str) and s not in SERVICE_FACTORIES]
        if unknown:
            raise ValueError(f"unknown sandbox services {unknown}; known: {sorted(SERVICE_FACTORIES)}")
        self._wanted = wanted
        self.services: dict[str, SandboxService] = {}
        self.infos: dict[str, ServiceInfo] = {}

    @property
    def connections(self) -> dict[str, dict[str, Any]]:
        """All Airflow connections of the started services, ``{conn_id: connection-json}``."""
        merged: dict[str, dict[str, Any]] = {}
        for info in self.infos.values():
            for conn_id, conn in info.connections.items():
                if conn_id in merged:
                    raise ValueError(f"connection id {conn_id!r} emitted by two services")
                merged[conn_id] = conn
        return merged

    def env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` environment entries for every connection, and ``[po_sync] dev_mode`` on:
        a sandbox may fall back to the example vendors and a SQLite ledger (:mod:`po_sync.dev_mode`)."""
        from po_sync.dev_mode import ENV_VAR

        return {**connection_env(self.connections), ENV_VAR: "True"}

    def start(self) -> Sandbox:
        """Start every service in order; on any failure stop the ones already up and re-raise."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._remove_published()
        try:
            for wanted in self._wanted:
                service = SERVICE_FACTORIES[wanted]() if isinstance(wanted, str) else wanted
                if service.name in self.services:
                    raise ValueError(f"service {service.name!r} listed twice")
                self.services[service.name] = service
                self.infos[service.name] = service.start(self.state_dir)
            self._publish()
        except BaseException:
            with contextlib.suppress(Exception):  # the start failure is the error worth seeing
                self.stop()
            raise
        return self

    def _publish(self) -> None:
        connections = self.connections
        _write_atomic(
            self.state_dir / CONNECTIONS_JSON_FILE, json.dumps(connections, indent=2, sort_keys=True)
        )
        _write_atomic(self.state_dir / CONNECTIONS_ENV_FILE, render_connections_env(connections))
        endpoints = {name: info.as_dict() for name, info in self.infos.items()}
        _write_atomic(self.state_dir / ENDPOINTS_FILE, json.dumps(endpoints, indent=2, sort_keys=True))
        log.info("sandbox up: %s (%s)", ", ".join(self.infos), self.state_dir / ENDPOINTS_FILE)

    def _remove_published(self) -> None:
        for name in PUBLISHED_FILES:
            (self.state_dir / name).unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop services in reverse start order, each even if another failed; safe to call twice."""
        self._remove_published()
        errors: list[BaseException] = []
        for name, service in reversed(list(self.services.items())):
            try:
                service.stop()
            except Exception as exc:  # keep stopping the others
                log.exception("stopping sandbox service %s failed", name)
                errors.append(exc)
        self.services.clear()
        self.infos.clear()
        if errors:
            raise errors[0]

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
