"""An SMTP sink (aiosmtpd): every accepted message becomes an ``.eml`` file tests and people can read."""

from __future__ import annotations

import email
import email.policy
import errno
import itertools
import logging
import os
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from po_sync_sandbox._net import LOOPBACK, free_port
from po_sync_sandbox.base import ServiceInfo

log = logging.getLogger(__name__)

FROM_EMAIL = "po-sync@sandbox.invalid"


class _MaildirHandler:
    """aiosmtpd handler writing each message to ``directory`` atomically, envelope kept as headers.

    Bcc recipients only exist in the envelope, so ``X-Sandbox-Mail-From`` / ``X-Sandbox-Rcpt-To`` are
    prepended (as a real MTA adds ``Return-Path`` / ``Delivered-To``).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = itertools.count()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or b""
        headers = (
            f"X-Sandbox-Mail-From: {envelope.mail_from}\r\n"
            f"X-Sandbox-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(headers + content)
        os.replace(tmp, self.directory / name)
        log.info("SMTP sink stored %s (%d recipients)", name, len(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpService:
    """Plain SMTP (no TLS, no AUTH) on loopback, storing mail under ``state_dir/smtp/``.

    :param port: TCP port to listen on; ``0`` picks a free one.
    :param conn_id: Airflow connection id to emit for it.
    :param from_email: default sender put in the connection's ``from_email`` extra.
    """

    name = "smtp"

    def __init__(self, port: int = 0, conn_id: str = "smtp_default", from_email: str = FROM_EMAIL) -> None:
        self.port = port
        self.conn_id = conn_id
        self.from_email = from_email
        self.directory: Path | None = None
        self._controller: Any = None

    def start(self, state_dir: Path) -> ServiceInfo:
        """Start the aiosmtpd controller thread; returns once it answers.

        :param state_dir: sandbox state directory; mail goes to ``state_dir/smtp``.
        """
        from aiosmtpd.controller import Controller

        self.directory = Path(state_dir) / "smtp"
        self.directory.mkdir(parents=True, exist_ok=True)
        handler = _MaildirHandler(self.directory)
        attempts = 1 if self.port else 5  # aiosmtpd cannot bind port 0; retry if the probed port is taken
        for attempt in range(attempts):
            port = self.port or free_port()
            controller = Controller(handler, hostname=LOOPBACK, port=port, ready_timeout=10)
            try:
                controller.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                continue
            self._controller = controller
            self.port = port
            break
        log.info("SMTP sink listening on %s:%d", LOOPBACK, self.port)
        return self.info()

    def info(self) -> ServiceInfo:
        """Describe the running sink: address, mail directory, and the ``smtp`` Airflow connection."""
        if self._controller is None:
            raise RuntimeError("SmtpService is not started")
        connection = {
            "conn_type": "smtp",
            "host": LOOPBACK,
            "port": self.port,
            "extra": {
                "disable_ssl": True,
                "disable_tls": True,
                "from_email": self.from_email,
                "timeout": 10,
                "retry_limit": 1,
            },
        }
        return ServiceInfo(
            name=self.name,
            endpoints={"host": LOOPBACK, "port": self.port, "maildir": str(self.directory)},
            credentials={},
            connections={self.conn_id: connection},
        )

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first (works after ``stop`` too)."""
        return read_messages(self.directory) if self.directory else []

    def stop(self) -> None:
        """Stop the controller thread; safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


def read_messages(directory: Path) -> list[EmailMessage]:
    """Parse the ``.eml`` files in ``directory``, oldest first.

    Usable from another process (tests, the CLI) with just the state directory.

    :param directory: ``state_dir/smtp``.
    """
    messages: list[EmailMessage] = []
    for path in sorted(Path(directory).glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        messages.append(msg)
    return messages
