"""The two notifiers every po-sync DAG carries (see :mod:`po_sync.dag_defaults`).

- :class:`TaskFailureNotifier` (a task's ``on_failure_callback``, so after its last retry): records
  the failure in the ledger (flow health groups them) and mails the flow's people the DAG, run,
  task, error and a link to the task's log.
- :class:`FlowDigestNotifier` (the DAG's ``on_success_callback`` and ``on_failure_callback``): after
  a run that newly failed or quarantined records, one mail listing them (at most ``digest_limit``,
  with a link to the queue filtered to that run); nothing when nothing is new.

Both hand the mail to the SMTP provider's ``SmtpNotifier`` (the ``smtp_default`` connection unless
the Variable names another). A notice is recorded in ``sync_notice`` before it is sent, under a
unique key, so a callback that runs twice sends one mail.
"""

from __future__ import annotations

import html
import logging
from typing import Any
from urllib.parse import urlencode

from airflow.sdk import BaseNotifier

from po_sync.exceptions import ConfigurationError
from po_sync.notify import recipients as settings_mod
from po_sync.notify.digest import claim_notice, new_bad_records

log = logging.getLogger(__name__)

FALLBACK_FROM = "po-sync@localhost"


def _airflow_url(settings: settings_mod.NotificationSettings | None) -> str:
    if settings and settings.airflow_url:
        return settings.airflow_url.rstrip("/")
    try:
        from airflow.configuration import conf

        return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    except Exception:  # noqa: BLE001
        return "http://localhost:8080"


def _ledger() -> Any:
    from po_sync.ledger.hook import LedgerHook

    return LedgerHook().get_conn()


def _from_email(settings: settings_mod.NotificationSettings, conn_id: str) -> str:
    if settings.from_email:
        return settings.from_email
    try:
        from airflow.sdk import BaseHook

        value = BaseHook.get_connection(conn_id).extra_dejson.get("from_email")
    except Exception:  # noqa: BLE001 - the provider then fails with its own clear message
        value = None
    return str(value or FALLBACK_FROM)


def _ids(context: Any) -> tuple[str, str]:
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None) or ""
    run_id = context.get("run_id") or getattr(dag_run, "run_id", None) or ""
    return str(dag_id), str(run_id)


class _PoSyncNotifier(BaseNotifier):
    """Nothing here is a template: every value comes from the context and the ledger."""

    template_fields = ()

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        # No templated fields; also sidesteps SerializedDAG.get_template_env in DAG callbacks under
        # dag.test (apache/airflow#64649).
        return None

    def send(
        self,
        settings: settings_mod.NotificationSettings,
        rcpt: settings_mod.Recipients,
        *,
        subject: str,
        body: str,
        headers: dict[str, str],
        context: Any,
    ) -> None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        conn_id = settings.smtp_conn_id or "smtp_default"
        SmtpNotifier(
            to=rcpt.to,
            cc=rcpt.cc or None,
            from_email=_from_email(settings, conn_id),
            subject=subject,
            html_content=body,
            smtp_conn_id=conn_id,
            custom_headers=headers,
        ).notify(context)


def _page(title: str, rows: list[tuple[str, str]], extra: str = "") -> str:
    cells = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<html><body><h2>{html.escape(title)}</h2><table>{cells}</table>{extra}</body></html>"


class TaskFailureNotifier(_PoSyncNotifier):
    """One mail to the flow's recipients when a task fails for good (after its retries)."""

    def notify(self, context: Any) -> None:
        ti = context["ti"]
        dag_id, run_id = ti.dag_id, ti.run_id
        map_index = getattr(ti, "map_index", -1)
        map_index = -1 if map_index is None else int(map_index)
        try_number = int(getattr(ti, "try_number", 0) or 0)
        exc = context.get("exception")
        error = (
            f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc or "unknown error")
        )
        settings: settings_mod.NotificationSettings | None
        try:
            settings = settings_mod.load()
        except ConfigurationError as err:
            log.error("po-sync notifications: %s; no mail sent", err)
            settings = None
        rcpt = settings.recipients(dag_id, "task_failure") if settings else None
        try:
            first = claim_notice(
                _ledger(),
                kind="task_failure",
                flow=dag_id,
                dag_id=dag_id,
                run_id=run_id,
                task_id=ti.task_id,
                map_index=map_index,
                try_number=try_number,
                message=error,
                recipients=(rcpt.to + rcpt.cc) if rcpt else None,
            )
        except Exception:  # noqa: BLE001 - the ledger being down must not stop the mail
            log.warning("could not record the task failure in the ledger", exc_info=True)
            first = True
        if not first or settings is None or rcpt is None:
            return
        from po_sync.ui.links import task_log_url

        base = _airflow_url(settings)
        log_url = task_log_url(base, dag_id, run_id, ti.task_id, map_index) or ""
        task = ti.task_id + (f"[{map_index}]" if map_index >= 0 else "")
        queue = f"{base}/po-sync/?{urlencode({'flow': dag_id, 'tab': 'all', 'run_id': run_id})}"
        body = _page(
            f"po-sync: {dag_id} task {task} failed",
            [
                ("DAG", html.escape(dag_id)),
                ("run", html.escape(run_id)),
                ("task", html.escape(f"{task} (try {try_number})")),
                ("error", f"<pre>{html.escape(error[:4000])}</pre>"),
                ("log", f"<a href='{html.escape(log_url)}'>{html.escape(log_url)}</a>"),
                ("records of this run", f"<a href='{html.escape(queue)}'>{html.escape(queue)}</a>"),
            ],
        )
        self.send(
            settings,
            rcpt,
            subject=f"[po-sync] {dag_id}: task {task} failed",
            body=body,
            headers={"X-PO-Sync-Kind": "task_failure", "X-PO-Sync-Flow": dag_id},
            context=context,
        )


class FlowDigestNotifier(_PoSyncNotifier):
    """After a DAG run: one mail listing the records it newly failed or quarantined (if any)."""

    def notify(self, context: Any) -> None:
        dag_id, run_id = _ids(context)
        if not dag_id or not run_id:
            log.warning("flow digest: no DAG run in the callback context")
            return
        ledger = _ledger()
        records = new_bad_records(ledger, dag_id, run_id)
        if not records:
            return
        settings = settings_mod.load()  # a bad Variable fails the callback, named in its log
        rcpt = settings.recipients(dag_id, "digest") if settings else None
        if settings is None or rcpt is None:
            log.info("flow digest: %d new record(s) but nobody to tell for %s", len(records), dag_id)
            return
        if not claim_notice(
            ledger,
            kind="digest",
            flow=dag_id,
            dag_id=dag_id,
            run_id=run_id,
            recipients=rcpt.to + rcpt.cc,
            record_count=len(records),
        ):
            return
        limit = settings.digest_limit
        base = _airflow_url(settings)
        queue = f"{base}/po-sync/?{urlencode({'flow': dag_id, 'run_id': run_id})}"
        failed = sum(1 for r in records if r["status"] == "failed")
        quarantined = len(records) - failed
        lines = "".join(_digest_line(base, r) for r in records[:limit])
        more = len(records) - limit
        extra = (
            "<table border='1' cellpadding='3'><tr><th>status</th><th>record</th><th>code</th><th>error</th></tr>"
            f"{lines}</table>"
            + (f"<p>… and {more} more.</p>" if more > 0 else "")
            + f"<p>Open the queue for this run: <a href='{html.escape(queue)}'>{html.escape(queue)}</a></p>"
        )
        body = _page(
            f"po-sync: {dag_id} run {run_id}",
            [
                ("new failed", str(failed)),
                ("new quarantined", str(quarantined)),
            ],
            extra,
        )
        try:
            self.send(
                settings,
                rcpt,
                subject=f"[po-sync] {dag_id}: {len(records)} new failed/quarantined record(s) in run {run_id}",
                body=body,
                headers={"X-PO-Sync-Kind": "digest", "X-PO-Sync-Flow": dag_id},
                context=context,
            )
        except Exception:
            _forget_digest(ledger, dag_id, run_id)
            raise


def _digest_line(base: str, r: dict[str, Any]) -> str:
    link = html.escape(f"{base}/po-sync/records/{r['id']}")
    label = html.escape(f"{r['entity_type']} {r['source_system']}:{r['source_id']}")
    return (
        f"<tr><td>{html.escape(r['status'])}</td><td><a href='{link}'>{label}</a></td>"
        f"<td>{html.escape(r['error_code'] or '')}</td>"
        f"<td>{html.escape((r['error_message'] or '')[:300])}</td></tr>"
    )


def _forget_digest(ledger: Any, dag_id: str, run_id: str) -> None:
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_notice

    with ledger.engine.begin() as conn:
        conn.execute(
            sa.delete(sync_notice).where(
                sync_notice.c.kind == "digest", sync_notice.c.dag_id == dag_id, sync_notice.c.run_id == run_id
            )
        )
