"""``XSeriesService``: the sandbox stand-in for one X-Series retailer (SandboxService protocol)."""

from __future__ import annotations

import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

from po_sync_sandbox.base import ServiceInfo
from po_sync_sandbox.faults import FaultPlan, ScriptedFault
from po_sync_sandbox.xseries.knobs import Knobs, update_knobs
from po_sync_sandbox.xseries.oauth import OAuthServer, SandboxApp
from po_sync_sandbox.xseries.ratelimit import RateBudget
from po_sync_sandbox.xseries.server import Stats, XSeriesHTTPServer
from po_sync_sandbox.xseries.staff import StoreStaff
from po_sync_sandbox.xseries.store import Store

DEFAULT_DOMAIN_PREFIX = "posync"
#: Outlets named like the NetSuite sandbox's locations (so the outlet <-> location map is obvious), with
#: one register in all: the documented budget is then 300 × 1 + 50 = 350 requests per 5 minutes.
OUTLETS = (("Main Warehouse", 0), ("Store Downtown", 1), ("Store Airport", 0))
SUPPLIERS = ("Acme Supply", "Globex Supply", "Initech Supply")
TOKEN_FILE = "xseries_tokens.json"


class XSeriesService:
    """An X-Series retailer on 127.0.0.1: API 2.0 (+ date versions), OAuth 2.0, personal token, faults.

    Python API for tests and actors: ``store``, ``staff`` (store staff), ``oauth``, ``knobs`` /
    ``set_knobs``, ``inject_fault``, ``stats``, ``budget``, ``connection(auth_mode)``.

    :param port: TCP port; 0 picks a free one.
    :param domain_prefix: the retailer's domain prefix.
    :param products: products ``SKU-00001``... (the NetSuite sandbox's item names) to create on start.
    :param knobs: initial knobs.
    """

    name = "xseries"

    def __init__(
        self,
        *,
        port: int = 0,
        domain_prefix: str = DEFAULT_DOMAIN_PREFIX,
        products: int = 50,
        knobs: Knobs | None = None,
    ) -> None:
        self.port = port
        self.domain_prefix = domain_prefix
        self.products = products
        self.knobs = knobs or Knobs()
        self.faults = FaultPlan()
        self.stats = Stats()
        self.budget = RateBudget()
        self.store = Store()
        self.staff = StoreStaff(self.store)
        self.oauth: OAuthServer
        self.state_dir: Path | None = None
        self._seeded = False
        self._server: XSeriesHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, state_dir: Path) -> ServiceInfo:
        """Load or create the app's credentials in ``state_dir``, seed data, listen on 127.0.0.1."""
        self.state_dir = Path(state_dir)
        self.oauth = OAuthServer(SandboxApp.load_or_create(self.state_dir), self.domain_prefix)
        if not self._seeded:
            self.seed()
        self._server = XSeriesHTTPServer(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="xseries-sandbox", daemon=True
        )
        self._thread.start()
        self._bootstrap = self.oauth.seed_pair(self.knobs.access_token_ttl_seconds)
        return self.info()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def seed(self) -> None:
        """Outlets, registers, suppliers and products ``SKU-00001``.. (idempotent per service)."""
        for name, registers in OUTLETS:
            self.store.add_outlet(name, registers=registers)
        suppliers = [self.store.add_supplier(name) for name in SUPPLIERS]
        for i in range(1, self.products + 1):
            self.store.add_product(
                f"SKU-{i:05d}",
                f"Item {i:05d}",
                supply_price=round(1 + (i * 37 % 199), 2),
                supplier_id=suppliers[i % len(suppliers)]["id"],
            )
        self.store.add_product("KIT-00001", "Gift bundle", is_composite=True)
        self._seeded = True

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the retailer's host (the API lives under ``/api/2.0``)."""
        return f"http://127.0.0.1:{self.port}"

    # -- description ------------------------------------------------------------------------------

    def connection(self, auth_mode: str = "oauth", **extra: Any) -> dict[str, Any]:
        """An Airflow connection (``AIRFLOW_CONN_*`` JSON form) for this retailer.

        :param auth_mode: ``oauth`` (client id/secret + a bootstrap refresh token, tokens kept in a token
            store file) or ``personal`` (the personal token as password).
        :param extra: more extra fields or overrides.
        """
        app = self.oauth.app
        fields_: dict[str, Any] = {"domain_prefix": self.domain_prefix, "auth_mode": auth_mode}
        if auth_mode == "oauth":
            fields_.update(
                redirect_uri=app.redirect_uri,
                connect_url=f"{self.base_url}/connect",
                refresh_token=self._bootstrap["refresh_token"],
                token_store_path=str((self.state_dir or Path(".")) / TOKEN_FILE),
            )
            login, password = app.client_id, app.client_secret
        else:
            login, password = "", app.personal_token
        fields_.update(extra)
        return {
            "conn_type": "xseries",
            "host": self.base_url,
            "login": login,
            "password": password,
            "extra": fields_,
        }

    def info(self) -> ServiceInfo:
        """Endpoints, sandbox credentials and the ``xseries_default`` (OAuth) / ``xseries_personal`` connections."""
        app = self.oauth.app
        return ServiceInfo(
            name=self.name,
            endpoints={
                "base_url": self.base_url,
                "api": f"{self.base_url}/api/2.0",
                "token": f"{self.base_url}/api/1.0/token",
                "connect": f"{self.base_url}/connect",
                "admin": f"{self.base_url}/_sandbox",
            },
            credentials={
                "domain_prefix": self.domain_prefix,
                "client_id": app.client_id,
                "redirect_uri": app.redirect_uri,
                "credentials_file": "xseries_credentials.json",
            },
            connections={
                "xseries_default": self.connection("oauth"),
                "xseries_personal": self.connection("personal"),
            },
        )

    # -- knobs, faults, admin ---------------------------------------------------------------------

    def set_knobs(self, **values: Any) -> Knobs:
        """Change knobs at runtime (names as in :class:`Knobs`)."""
        return update_knobs(self.knobs, values)

    def reset_knobs(self) -> Knobs:
        """Every knob back to its default; scripted faults and the rate windows cleared."""
        defaults = Knobs()
        for f in fields(Knobs):
            setattr(self.knobs, f.name, getattr(defaults, f.name))
        self.faults.clear()
        self.budget.reset()
        return self.knobs

    def inject_fault(
        self, kind: str, count: int = 1, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Make the next ``count`` matching calls fail with ``kind`` (``429``, ``500``, ``502``, ``503``,
        ``timeout``, ``drop``, ``drop_after``); ``path_contains="/api/1.0/token"`` takes the token endpoint down."""
        self.faults.inject(ScriptedFault(kind=kind, count=count, method=method, path_contains=path_contains))

    def admin(self, method: str, path: str, payload: Any) -> Any:
        """``/_sandbox/...`` routes beyond knobs/faults/stats; None = unknown route."""
        route = (method, path.rstrip("/"))
        staff = self.staff
        if route == ("POST", "/_sandbox/expire-tokens"):
            self.oauth.expire_access_tokens()
            return {}
        if route == ("POST", "/_sandbox/revoke-refresh-tokens"):
            self.oauth.revoke_all_refresh_tokens()
            return {}
        if route == ("POST", "/_sandbox/auth-code"):
            return {"code": self.oauth.new_code(self.knobs.auth_code_ttl_seconds)}
        if route == ("GET", "/_sandbox/oauth"):
            return {
                "issued": self.oauth.issued,
                "refreshed": self.oauth.refreshed,
                "refresh_reuse_rejected": self.oauth.refresh_reuse_rejected,
            }
        if route == ("GET", "/_sandbox/budget"):
            return {"rejected": self.budget.rejected, "rejected_by_window": self.budget.rejected_by_window}
        if route == ("POST", "/_sandbox/budget/reset"):
            self.budget.reset()
            return {}
        if route == ("POST", "/_sandbox/staff/receive"):
            return staff.receive(payload["consignment_id"], payload.get("received"))
        if route == ("POST", "/_sandbox/staff/transfer"):
            return staff.create_transfer(**payload)
        if route == ("POST", "/_sandbox/staff/supplier-order"):
            return staff.create_supplier_order(**payload)
        return None
