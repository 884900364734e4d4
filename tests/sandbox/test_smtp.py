"""The SMTP sink accepts mail from the smtp provider's SmtpHook and keeps it as .eml files."""

from __future__ import annotations

import uuid

from airflow.providers.smtp.hooks.smtp import SmtpHook

from po_sync_sandbox.smtp import read_messages


def test_smtp_connection_disables_tls(airflow_conns):
    conn = airflow_conns["smtp_default"]
    assert conn["conn_type"] == "smtp"
    assert conn["host"] == "127.0.0.1"
    assert conn["extra"]["disable_ssl"] is True and conn["extra"]["disable_tls"] is True


def test_smtp_hook_message_arrives(sandbox, airflow_conns):
    subject = f"PO sync failed {uuid.uuid4().hex[:6]}"
    with SmtpHook(smtp_conn_id="smtp_default") as hook:
        hook.send_email_smtp(
            to="buyer@example.com",
            bcc="audit@example.com",
            subject=subject,
            html_content="<p>3 POs could not be pushed</p>",
        )

    smtp = sandbox.services["smtp"]
    [msg] = [m for m in smtp.messages() if m["Subject"] == subject]
    assert msg["To"] == "buyer@example.com"
    assert msg["From"] == "po-sync@sandbox.invalid"  # the connection's from_email
    assert "audit@example.com" in msg["X-Sandbox-Rcpt-To"]  # bcc only exists in the envelope
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "3 POs could not be pushed" in html.get_content()
    # readable by another process from the state directory alone
    assert subject in [m["Subject"] for m in read_messages(smtp.directory)]
