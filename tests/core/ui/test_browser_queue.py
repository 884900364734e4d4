"""The error queue used the way a person uses it: in a real browser, against a real Airflow.

Debian's ``chromium`` + ``chromium-driver`` (installed by ``.ci/run``) driven by selenium; Airflow's
api-server (with the po_sync plugin), scheduler and dag-processor as separate processes; the HotWax
PO export running against the sandbox's NetSuite and SFTP; mail to the sandbox's SMTP sink.

The story: two POs carry a SKU HotWax's CSV cannot hold, so the export quarantines them (and the
dag-processor mails a digest). A person logs in, opens *Browse → po-sync ledger*, filters to the
flow, fixes one SKU in NetSuite, retries that PO with "trigger the flow now", sees it synced after
the run, and resolves the other with a note. A viewer is refused. Every wait is explicit
(WebDriverWait on what the page shows); screenshots of the queue and a record's history are kept
in ``artifacts/browser/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from po_sync.ledger import Ledger, RecordKey, RecordStatus
from po_sync.ledger.engine import get_engine
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.notify.recipients import VARIABLE
from po_sync_sandbox.airflow_stack import AirflowStack, airflow_env, free_port, http, wait_for
from tests.hotwax.conftest import SMALL_DATA

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("PO_SYNC_ARTIFACTS", ROOT / "artifacts")) / "browser"
FLOW = "hotwax_po_export"
WAIT = 60  # seconds a page may take to show what the test waits for (a loaded CI machine)


def _chromedriver() -> str:
    path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not Path(path).exists():
        reason = "chromium-driver is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("PO_SYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox

    driver_path = _chromedriver()
    home = tmp_path_factory.mktemp("browser_airflow")
    netsuite = NetSuiteService(generate_spec=GenerateSpec(**SMALL_DATA))
    with Sandbox(home / "sandbox", services=["sftp", "smtp", netsuite]) as sb:
        ledger_path = home / "ledger.db"
        passwords = {"admin": secrets.token_urlsafe(12), "viewer": secrets.token_urlsafe(12)}
        (home / "passwords.json").write_text(json.dumps(passwords))
        env = airflow_env(
            home,
            executor="LocalExecutor",
            sql_alchemy_conn=f"sqlite:///{home / 'airflow.db'}",
            api_port=free_port(),
            password_file=home / "passwords.json",
            extra={
                **sb.env(),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
                "AIRFLOW_CONN_PO_SYNC_DB": json.dumps({"conn_type": "sqlite", "host": str(ledger_path)}),
                f"AIRFLOW_VAR_{VARIABLE.upper()}": json.dumps(
                    {"flows": {FLOW: {"to": ["buyer@example.com"]}}, "digest_limit": 10}
                ),
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            },
        )
        airflow = AirflowStack(env, home / "logs")
        try:
            airflow.run_cli("db", "migrate")
            for name in ("api-server", "scheduler", "dag-processor"):
                airflow.start(name, [name])

            def up() -> bool:
                airflow.check_alive()
                status, body = http("GET", f"{airflow.api}/api/v2/monitor/health")
                return status == 200 and body["scheduler"]["status"] == "healthy"

            wait_for("api-server and scheduler", up, 240)
            airflow.login("admin", passwords["admin"])
            airflow.ensure_pool(NETSUITE_POOL, 5, "NetSuite")
            airflow.wait_dag(FLOW)
            airflow.unpause(FLOW)
            yield {
                "airflow": airflow,
                "sandbox": sb,
                "store": netsuite.store,
                "ledger": Ledger(get_engine(f"sqlite:///{ledger_path}")),
                "passwords": passwords,
                "driver_path": driver_path,
            }
        except BaseException:
            print(airflow.log_tails(40))
            raise
        finally:
            airflow.stop()


@pytest.fixture(scope="module")
def browser(world: dict[str, Any]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(world["driver_path"]), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _items(store: Any, po: str) -> list[str]:
    return [line["item"]["id"] for line in store.get("purchaseOrder", po)["item"]["items"]]


def _shot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_a_person_retries_one_quarantined_po_and_resolves_another(
    world: dict[str, Any], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    airflow: AirflowStack = world["airflow"]
    store, ledger = world["store"], world["ledger"]
    wait = WebDriverWait(browser, WAIT)

    # Two POs whose SKU HotWax cannot carry (each its own item, not on the other PO).
    a = next(i for i in _items(store, "3") if i not in _items(store, "4"))
    b = next(i for i in _items(store, "4") if i not in _items(store, "3"))
    for item in (a, b):
        store.update("inventoryItem", item, {"itemId": f"SKU,{item}"}, replace=set())
    run_id = airflow.trigger(FLOW)
    assert airflow.wait_run(FLOW, run_id) == "success"
    key3, key4 = (RecordKey(FLOW, "purchase_order", "netsuite", po) for po in ("3", "4"))
    po3, po4 = ledger.get(key3), ledger.get(key4)
    assert po3 is not None and po4 is not None
    assert po3.status is RecordStatus.QUARANTINED and po4.status is RecordStatus.QUARANTINED

    # The dag-processor ran the DAG's digest callback: one mail listing the new quarantined POs.
    smtp = world["sandbox"].services["smtp"]
    digest = wait_for(
        "the digest mail",
        lambda: [m for m in smtp.messages() if m["X-PO-Sync-Kind"] == "digest"],
        120,
    )
    assert digest[0]["To"] == "buyer@example.com"
    assert "purchase_order netsuite:3" in digest[0].get_body(preferencelist=("html",)).get_content()

    # Log in through Airflow's login page.
    browser.get(f"{airflow.api}/auth/login")
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(world["passwords"]["admin"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: any(c["name"] == "_token" for c in d.get_cookies()))

    # Browse → po-sync ledger: the page inside the Airflow UI.
    browser.get(f"{airflow.api}/plugin/po-sync-ledger")
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
    wait.until(ec.presence_of_element_located((By.ID, "records")))
    Select(browser.find_element(By.ID, "f-flow")).select_by_visible_text(FLOW)
    browser.find_element(By.ID, "apply-filters").click()
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), f"error queue: {FLOW}"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#records tr[data-record]")
    assert {r.get_attribute("data-source") for r in rows} >= {"3", "4"}
    assert "cannot hold a comma" in browser.find_element(By.ID, "records").text
    browser.switch_to.default_content()
    _shot(browser, "queue")
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))

    # The buyer fixes PO 3's SKU in NetSuite, then retries PO 3 and asks for a run now.
    store.update("inventoryItem", a, {"itemId": f"SKU-{a}"}, replace=set())
    browser.find_element(By.ID, f"pick-{po3.id}").click()
    browser.find_element(By.ID, "trigger").click()
    browser.find_element(By.ID, "do-retry").click()
    message = wait.until(ec.visibility_of_element_located((By.ID, "message"))).text
    assert "retry: 1 record(s) done" in message and f"triggered {FLOW} run" in message, message
    retry_run = message.rsplit(f"triggered {FLOW} run ", 1)[1].split(";")[0].strip()
    assert airflow.wait_run(FLOW, retry_run) == "success"
    _, run = airflow.api_call("GET", f"/api/v2/dags/{FLOW}/dagRuns/{retry_run}")
    assert run["conf"]["resync_po_numbers"] == ["3"]
    assert run["conf"]["po_sync_retry"] == {"record_ids": [po3.id], "requested_by": "admin"}

    # Its record page: synced, with the whole story.
    browser.get(f"{airflow.api}/po-sync/records/{po3.id}")
    wait.until(ec.text_to_be_present_in_element((By.ID, "record-status"), "synced"))
    history = browser.find_element(By.ID, "history").text
    assert "quarantined" in history and "retry" in history and "admin" in history
    assert "auto_resolve" in history and "earlier error(s) resolved" in history
    assert (
        browser.find_element(By.ID, "link-log")
        .get_attribute("href")
        .startswith(f"{airflow.api}/dags/{FLOW}/runs/")
    )
    _shot(browser, "record-history")

    # PO 4 stays bad: resolve it with a note, from the queue's link to its page.
    browser.get(f"{airflow.api}/po-sync/?flow={FLOW}")
    browser.find_element(By.CSS_SELECTOR, f"tr[data-record='{po4.id}'] a.record-link").click()
    wait.until(ec.presence_of_element_located((By.ID, "record-status")))
    browser.find_element(By.ID, "note").send_keys("SKU fixed by hand in HotWax <b>not bold</b>")
    browser.find_element(By.ID, "do-resolve").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "record-status"), "resolved"))
    history = browser.find_element(By.ID, "history").text
    assert "SKU fixed by hand in HotWax <b>not bold</b>" in history  # shown as text, not markup
    assert ledger.get(key4).status is RecordStatus.RESOLVED  # type: ignore[union-attr]
    assert ledger.get(key3).status is RecordStatus.SYNCED  # type: ignore[union-attr]


def test_a_viewer_can_read_the_queue_but_not_act(world: dict[str, Any]) -> None:
    airflow: AirflowStack = world["airflow"]
    status, body = http(
        "POST",
        f"{airflow.api}/auth/token",
        body={"username": "viewer", "password": world["passwords"]["viewer"]},
    )
    assert status == 201
    token = body["access_token"]
    status, queue = http("GET", f"{airflow.api}/po-sync/api/records?flow={FLOW}&tab=all", token=token)
    assert status == 200 and queue["total"] > 0
    record = queue["records"][0]["id"]
    status, answer = http(
        "POST",
        f"{airflow.api}/po-sync/api/records/actions",
        token=token,
        body={"action": "ignore", "record_ids": [record], "note": "try"},
    )
    assert status == 403 and "viewer may not act on records of hotwax_po_export" in answer["detail"]
    status, _ = http("GET", f"{airflow.api}/po-sync/api/records")
    assert status == 401
    # Flow health read Airflow's own DAG runs (not the ledger's stand-in) and found every pool.
    status, health = http("GET", f"{airflow.api}/po-sync/api/health", token=token)
    (flow,) = [h for h in health["flows"] if h["flow"] == FLOW]
    assert flow["runs_from"] == "airflow" and flow["last_run_state"] == "success" and flow["healthy"]
    assert not [g for g in flow["failures"] if "pool" in g["message"]]
    # A flow that never touched the ledger is listed too (found by its po-sync tag in Airflow).
    assert "hotwax_receipt_import" in {h["flow"] for h in health["flows"]}
