"""``ServiceNowService``: the stand-in for one ServiceNow instance with Source-to-Pay (SandboxService).

Besides the API it plays S2P's own business rules on the records the integration writes (the docs'
"process flow"): when the outbound staging header of a PO becomes Processed (``30``) the PO and its
requisition move from Pending Submission to Ordered, or to Canceled when the staged change was a
cancellation; when it becomes Failed (``40``) they stay Pending Submission until the error is resolved.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

from po_sync_sandbox._net import LOOPBACK
from po_sync_sandbox.base import ServiceInfo
from po_sync_sandbox.servicenow.knobs import FaultPlan, Knobs, ScriptedFault, update_knobs
from po_sync_sandbox.servicenow.schema import PRIMARY_PO, REQUISITION, STAGING_PO
from po_sync_sandbox.servicenow.server import Auth, Stats, TLSServer
from po_sync_sandbox.servicenow.store import Store
from po_sync_sandbox.servicenow.tls import ensure_certificates, server_context

USERNAME = "s2p.integration"
CREDENTIALS_FILE = "servicenow_credentials.json"


def _load_or_create_credentials(state_dir: Path) -> dict[str, str]:
    """Sandbox-only credentials, kept in the state directory so a restart accepts the same ones."""
    path = state_dir / CREDENTIALS_FILE
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    data = {
        "username": USERNAME,
        "password": secrets.token_urlsafe(18),
        "client_id": secrets.token_hex(16),
        "client_secret": secrets.token_urlsafe(24),
    }
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


class ServiceNowService:
    """A ServiceNow instance on 127.0.0.1 over HTTPS: Table API, Batch API, OAuth, S2P tables.

    Python API for tests and actors: ``store`` (the records), ``knobs`` / ``set_knobs``,
    ``inject_fault``, ``stats``, ``connection(auth_type)``, ``ca_file``.

    :param port: TCP port; 0 picks a free one.
    :param knobs: initial knobs.
    """

    name = "servicenow"

    def __init__(self, *, port: int = 0, knobs: Knobs | None = None) -> None:
        self.port = port
        self.knobs = knobs or Knobs()
        self.faults = FaultPlan()
        self.stats = Stats()
        self.store = Store()
        self.credentials: dict[str, str] = {}
        self.auth: Auth
        self.ca_file: Path | None = None
        self._server: TLSServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, state_dir: Path) -> ServiceInfo:
        """Create certificates and credentials in ``state_dir`` (once) and listen on 127.0.0.1."""
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = _load_or_create_credentials(state_dir)
        self.auth = Auth(
            {self.credentials["username"]: self.credentials["password"]},
            self.credentials["client_id"],
            self.credentials["client_secret"],
            self.knobs,
        )
        ca, cert, key = ensure_certificates(state_dir)
        self.ca_file = ca
        self._server = TLSServer((LOOPBACK, self.port), self, server_context(cert, key))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="servicenow-sandbox", daemon=True
        )
        self._thread.start()
        return self.info()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>`` (the instance URL)."""
        return f"https://{LOOPBACK}:{self.port}"

    # -- description ------------------------------------------------------------------------------

    def connection(self, auth_type: str = "basic", **extra: Any) -> dict[str, Any]:
        """An Airflow connection (``AIRFLOW_CONN_*`` JSON form) for this instance.

        :param auth_type: ``basic`` or ``oauth`` (password grant, refreshed).
        :param extra: more extra fields or overrides (e.g. ``max_attempts``).
        """
        fields_: dict[str, Any] = {"auth_type": auth_type, "ca_bundle": str(self.ca_file)}
        if auth_type == "oauth":
            fields_.update(
                client_id=self.credentials["client_id"], client_secret=self.credentials["client_secret"]
            )
        fields_.update(extra)
        return {
            "conn_type": "servicenow",
            "host": self.base_url,
            "login": self.credentials["username"],
            "password": self.credentials["password"],
            "extra": fields_,
        }

    def info(self) -> ServiceInfo:
        """Endpoints, the CA file, sandbox-only credentials and the ``servicenow_default`` (Basic) /
        ``servicenow_oauth`` connections."""
        return ServiceInfo(
            name=self.name,
            endpoints={
                "instance": self.base_url,
                "table_api": f"{self.base_url}/api/now/table",
                "batch_api": f"{self.base_url}/api/now/v1/batch",
                "token": f"{self.base_url}/oauth_token.do",
                "admin": f"{self.base_url}/_sandbox",
                "ca_file": str(self.ca_file),
            },
            credentials=dict(self.credentials),
            connections={
                "servicenow_default": self.connection("basic"),
                "servicenow_oauth": self.connection("oauth"),
            },
        )

    # -- knobs ------------------------------------------------------------------------------------

    def set_knobs(self, **values: Any) -> Knobs:
        return update_knobs(self.knobs, values)

    def reset_knobs(self) -> Knobs:
        defaults = Knobs()
        for f in fields(Knobs):
            setattr(self.knobs, f.name, getattr(defaults, f.name))
        self.faults.clear()
        self.auth.reset_window()
        return self.knobs

    def inject_fault(
        self, kind: str, count: int = 1, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """The next ``count`` matching calls fail with ``kind`` (``429``, ``500``, ``503``, ``drop``)."""
        self.faults.inject(ScriptedFault(kind=kind, count=count, method=method, path_contains=path_contains))

    # -- S2P's business rules ---------------------------------------------------------------------

    def after_write(self, table: str, row: dict[str, str], changed: dict[str, Any]) -> None:
        """Move the PO and its requisition when the integration marks a staged PO processed or failed."""
        if table != STAGING_PO or "integration_status" not in changed:
            return
        status = row.get("integration_status")
        po_id = row.get("purchase_order", "")
        po = self.store.get(PRIMARY_PO, po_id) if po_id else None
        if po is None or status not in ("30", "40"):
            return
        if status == "30":
            new = "canceled" if row.get("purchase_order_status") == "canceled" else "ordered"
            if row.get("order_type") == "blanket":
                new = "ordered"
        else:
            new = "pending_submission"
        self.store.update(PRIMARY_PO, po_id, {"status": new}, user="system")
        requisition = po.get("purchase_requisition", "")
        if requisition and self.store.get(REQUISITION, requisition) is not None:
            self.store.update(REQUISITION, requisition, {"status": new}, user="system")
