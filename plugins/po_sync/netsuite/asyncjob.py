"""Following an asynchronous NetSuite request (``Prefer: respond-async``) to the reply it produced.

NetSuite answers such a request ``202`` with ``Location: .../async/v1/job/<id>``. The job reports
``completed`` / ``progress``; its task's ``result`` is the reply the request would have had synchronously
(``204`` + ``Location`` of the new record, or NetSuite's error body). Oracle documents
``X-NetSuite-Idempotency-Key`` for these requests: a repeated key is 400 ``IDEMPOTENCY_ERROR`` whose
``Location`` points at the earlier job, which is followed the same way.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from po_sync.exceptions import ExternalSystemError, RetriableError
from po_sync.netsuite.transport import NetSuiteTransport

JOB_PATH = "/async/v1/job/"
FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 5.0


def is_job_url(location: str | None) -> bool:
    """Whether a ``Location`` points at an async job (rather than at a record)."""
    return bool(location) and JOB_PATH in str(location)


def await_job_result(transport: NetSuiteTransport, job_url: str, *, timeout: float) -> requests.Response:
    """Poll the job until it completes, then return its task's result.

    :param transport: the hook's transport (auth, limiter, retries of each poll).
    :param job_url: the job's ``Location``.
    :param timeout: seconds to wait for completion.
    :raises RetriableError: the job did not complete in time (it may still; the same idempotency key finds it).
    :raises ExternalSystemError: the mapped error of a job whose request failed.
    """
    deadline = time.monotonic() + timeout
    wait = FIRST_POLL_SECONDS
    while True:
        job = _json(transport.request("GET", job_url, idempotent=True))
        if job.get("completed"):
            break
        if time.monotonic() + wait > deadline:
            raise RetriableError(
                f"NetSuite async job {job.get('id', job_url)} not completed after {timeout:.0f} s",
                system="netsuite",
            )
        time.sleep(wait)
        wait = min(wait * 2, MAX_POLL_SECONDS)
    task_list_url = _link(job.get("task"), "related") or f"{job_url.rstrip('/')}/task"
    tasks = _json(transport.request("GET", task_list_url, idempotent=True)).get("items") or []
    if not tasks:
        raise ExternalSystemError(f"NetSuite async job {job.get('id')} has no task", system="netsuite")
    task_url = _link(tasks[0], "self") or f"{task_list_url.rstrip('/')}/{tasks[0].get('id')}"
    # a failed job's result is NetSuite's error for the request: raised here as that error, not retried
    # (repeating the read would only read the same failure)
    failed = str(job.get("progress", "")).lower() == "failed"
    return transport.request("GET", f"{task_url.rstrip('/')}/result", idempotent=not failed)


def _json(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    return body if isinstance(body, dict) else {}


def _link(holder: Any, rel: str) -> str | None:
    links = holder.get("links") if isinstance(holder, dict) else None
    for link in links or []:
        if isinstance(link, dict) and link.get("rel") == rel and link.get("href"):
            return str(link["href"])
    return None
