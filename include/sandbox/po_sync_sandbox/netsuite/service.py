"""``NetSuiteService``: the sandbox stand-in for one NetSuite account (SandboxService protocol)."""

from __future__ import annotations

import json
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

from po_sync_sandbox.base import ServiceInfo
from po_sync_sandbox.faults import FaultPlan, ScriptedFault
from po_sync_sandbox.netsuite.asyncjobs import AsyncJobs
from po_sync_sandbox.netsuite.generator import GenerateSpec, generate
from po_sync_sandbox.netsuite.knobs import Knobs, update_knobs
from po_sync_sandbox.netsuite.nsauth import Authenticator, SandboxCredentials
from po_sync_sandbox.netsuite.server import SandboxHTTPServer, Stats
from po_sync_sandbox.netsuite.store import Store
from po_sync_sandbox.netsuite.suiteql import SuiteQLEngine

DEFAULT_ACCOUNT_ID = "1234567_SB1"


class NetSuiteService:
    """A NetSuite account on 127.0.0.1: REST records, SuiteQL, TBA and M2M auth, governance and faults.

    Python API for tests and actors: ``store`` (records and SuiteQL tables), ``knobs`` / ``set_knobs``,
    ``inject_fault``, ``stats``, ``generate``, ``connection(auth_mode)``.

    :param port: TCP port; 0 picks a free one.
    :param account_id: the emulated account id.
    :param generate_spec: data generated on start (None = the default small data set; pass
        ``GenerateSpec(purchase_orders=0, ...)`` for less).
    :param knobs: initial knobs.
    """

    name = "netsuite"

    def __init__(
        self,
        *,
        port: int = 0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        generate_spec: GenerateSpec | None = None,
        knobs: Knobs | None = None,
    ) -> None:
        self.port = port
        self.account_id = account_id
        self.realm = account_id.replace("-", "_").upper()
        self.account_host = f"{account_id.replace('_', '-').lower()}.suitetalk.api.netsuite.com"
        self.generate_spec = generate_spec if generate_spec is not None else GenerateSpec()
        self.knobs = knobs or Knobs()
        self.faults = FaultPlan()
        self.stats = Stats()
        self.store = Store(self.knobs)
        self.engine = SuiteQLEngine(self.store)
        self.idempotency: dict[str, str] = {}
        self.jobs = AsyncJobs()
        self.idempotency_lock = threading.Lock()
        self.credentials: SandboxCredentials | None = None
        self.authenticator: Authenticator
        self.created: dict[str, list[int]] = {}
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, state_dir: Path) -> ServiceInfo:
        """Load or create credentials in ``state_dir``, generate data, listen on 127.0.0.1."""
        state_dir = Path(state_dir)
        self.credentials = SandboxCredentials.load_or_create(state_dir, self.account_id)
        self.authenticator = Authenticator(self.credentials, self.realm)
        if not self.created:
            self.created = generate(self.store, self.generate_spec)
        self._server = SandboxHTTPServer(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="netsuite-sandbox", daemon=True
        )
        self._thread.start()
        return self.info()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (REST lives under ``/services/rest``)."""
        return f"http://127.0.0.1:{self.port}"

    # -- description ------------------------------------------------------------------------------

    def connection(self, auth_mode: str = "tba", *, algorithm: str = "ES256", **extra: Any) -> dict[str, Any]:
        """An Airflow connection (``AIRFLOW_CONN_*`` JSON form) for this account.

        :param auth_mode: ``tba`` or ``m2m``.
        :param algorithm: for ``m2m``: ``ES256`` or ``PS256`` (the sandbox holds one certificate each).
        :param extra: more extra fields (e.g. ``concurrency``), or overrides (e.g. a wrong ``token_secret``).
        """
        creds = self._creds()
        fields_: dict[str, Any] = {
            "account_id": self.account_id,
            "auth_mode": auth_mode,
            "account_timezone": self.knobs.account_timezone,
        }
        if auth_mode == "tba":
            fields_.update(
                consumer_key=creds.consumer_key,
                consumer_secret=creds.consumer_secret,
                token_id=creds.token_id,
                token_secret=creds.token_secret,
            )
        else:
            kid, cert = next((k, c) for k, c in creds.certificates.items() if c["algorithm"] == algorithm)
            fields_.update(
                client_id=creds.client_id,
                certificate_id=kid,
                private_key=cert["private_key"],
                algorithm=algorithm,
            )
        fields_.update(extra)
        return {"conn_type": "netsuite", "host": self.base_url, "extra": fields_}

    def info(self) -> ServiceInfo:
        """Endpoints, sandbox-only credentials and the ``netsuite_default`` (TBA) / ``netsuite_m2m`` connections."""
        creds = self._creds()
        return ServiceInfo(
            name=self.name,
            endpoints={
                "base_url": self.base_url,
                "rest": f"{self.base_url}/services/rest",
                "token": f"{self.base_url}/services/rest/auth/oauth2/v1/token",
                "admin": f"{self.base_url}/_sandbox",
            },
            credentials={
                "account_id": self.account_id,
                "realm": self.realm,
                "tba": {
                    "consumer_key": creds.consumer_key,
                    "consumer_secret": creds.consumer_secret,
                    "token_id": creds.token_id,
                    "token_secret": creds.token_secret,
                },
                "m2m": {
                    "client_id": creds.client_id,
                    "certificates": {
                        kid: {"algorithm": c["algorithm"], "public_key": c["public_key"]}
                        for kid, c in creds.certificates.items()
                    },
                    "private_keys_file": "netsuite_credentials.json",
                },
            },
            connections={"netsuite_default": self.connection("tba"), "netsuite_m2m": self.connection("m2m")},
        )

    def _creds(self) -> SandboxCredentials:
        if self.credentials is None:
            raise RuntimeError("start() the NetSuite sandbox first")
        return self.credentials

    # -- knobs and data ---------------------------------------------------------------------------

    def set_knobs(self, **values: Any) -> Knobs:
        """Change knobs at runtime (names as in :class:`Knobs`)."""
        return update_knobs(self.knobs, values)

    def reset_knobs(self) -> Knobs:
        """Every knob back to its default."""
        defaults = Knobs()
        for f in fields(Knobs):
            setattr(self.knobs, f.name, getattr(defaults, f.name))
        self.faults.clear()
        return self.knobs

    def inject_fault(
        self, kind: str, count: int = 1, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Make the next ``count`` matching calls fail with ``kind`` (``429``, ``500``, ``502``, ``503``,
        ``timeout``, ``drop``, ``drop_after``)."""
        self.faults.inject(ScriptedFault(kind=kind, count=count, method=method, path_contains=path_contains))

    def generate(self, **spec: Any) -> dict[str, list[int]]:
        """Generate more data (arguments of :class:`GenerateSpec`); returns the new ids by type."""
        created = generate(self.store, GenerateSpec(**spec))
        for key, ids in created.items():
            self.created.setdefault(key, []).extend(ids)
        return created

    def write_state(self, state_dir: Path) -> Path:
        """Write ``netsuite.json`` (the ServiceInfo) into ``state_dir``."""
        path = Path(state_dir) / "netsuite.json"
        path.write_text(json.dumps(self.info().as_dict(), indent=2))
        return path
