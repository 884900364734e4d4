"""Asynchronous requests (``Prefer: respond-async``): the job store and the ``/async/v1/job`` wire shapes.

Oracle documents that any REST request sent with ``Prefer: respond-async`` is answered ``202 Accepted`` with
``Preference-Applied: respond-async`` and ``Location: /services/rest/async/v1/job/<id>`` (server-relative,
unlike the absolute ``Location`` of records), that
``GET /async/v1/job/<id>`` reports ``{"links", "completed", "id", "progress", "task": {"links"}}``, and that
``X-NetSuite-Idempotency-Key`` belongs to such requests: a repeated key is 400 ``IDEMPOTENCY_ERROR`` with
``Location`` pointing at the earlier job.

The sandbox runs the request at once and keeps its reply; the job reports ``pending`` for the first
``async_pending_polls`` reads (a knob), then ``succeeded`` or ``failed``. One task per job, whose
``/result`` is the reply the request would have had synchronously (e.g. 204 + ``Location`` of the new
record, or the error body). The task and result paths are not in the reference and are marked so.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AsyncJob:
    """One asynchronous request and the reply it produced.

    :param id: the job id (also its only task's id).
    :param status: the HTTP status of the request's own reply.
    :param headers: that reply's headers (``Location`` of a created record).
    :param body: that reply's JSON body (an error body for failures), or None.
    :param content_type: that reply's content type.
    :param polls: how often the job was read so far.
    """

    id: int
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    content_type: str = "application/json"
    polls: int = 0

    @property
    def succeeded(self) -> bool:
        """Whether the request itself succeeded (2xx)."""
        return 200 <= self.status < 300


class AsyncJobs:
    """Jobs by id, and by idempotency key. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._jobs: dict[int, AsyncJob] = {}
        self._by_key: dict[str, int] = {}

    def create(self, idempotency_key: str | None) -> tuple[AsyncJob, bool]:
        """A new job, or the earlier job of the same idempotency key: ``(job, is_new)``."""
        with self._lock:
            if idempotency_key and idempotency_key in self._by_key:
                return self._jobs[self._by_key[idempotency_key]], False
            job = AsyncJob(id=next(self._ids))
            self._jobs[job.id] = job
            if idempotency_key:
                self._by_key[idempotency_key] = job.id
            return job, True

    def finish(
        self, job: AsyncJob, status: int, headers: dict[str, str], body: Any, content_type: str
    ) -> None:
        """Record the reply the job's request produced."""
        with self._lock:
            job.status, job.headers, job.body, job.content_type = status, dict(headers), body, content_type

    def read(self, job_id: str, *, pending_polls: int, count: bool = True) -> tuple[AsyncJob, bool] | None:
        """The job and whether it reports completed on this read (None if there is no such job).

        :param pending_polls: reads of the job that report it pending before it completes.
        :param count: count this as a read of the job (its task and result are read with ``count=False``).
        """
        try:
            number = int(job_id)
        except ValueError:
            return None
        with self._lock:
            job = self._jobs.get(number)
            if job is None:
                return None
            if count:
                job.polls += 1
            return job, job.status != 0 and job.polls > pending_polls


def job_body(job: AsyncJob, job_url: str, completed: bool) -> dict[str, Any]:
    """``GET /async/v1/job/<id>`` [Oracle]."""
    return {
        "links": [{"rel": "self", "href": job_url}],
        "completed": completed,
        "id": str(job.id),
        "progress": _progress(job, completed),
        "task": {"links": [{"rel": "related", "href": f"{job_url}/task"}]},
    }


def task_list_body(job: AsyncJob, job_url: str) -> dict[str, Any]:
    """``GET /async/v1/job/<id>/task``: the job's one task [sandbox shape; not in the reference]."""
    task_url = f"{job_url}/task/{job.id}"
    return {
        "links": [{"rel": "self", "href": f"{job_url}/task"}],
        "count": 1,
        "hasMore": False,
        "items": [{"links": [{"rel": "self", "href": task_url}], "id": str(job.id)}],
        "offset": 0,
        "totalResults": 1,
    }


def task_body(job: AsyncJob, job_url: str, completed: bool) -> dict[str, Any]:
    """``GET /async/v1/job/<id>/task/<id>`` [sandbox shape; not in the reference]."""
    task_url = f"{job_url}/task/{job.id}"
    return {
        "links": [{"rel": "self", "href": task_url}],
        "completed": completed,
        "id": str(job.id),
        "progress": _progress(job, completed),
        "result": {"links": [{"rel": "related", "href": f"{task_url}/result"}]},
    }


def _progress(job: AsyncJob, completed: bool) -> str:
    if not completed:
        return "pending"
    return "succeeded" if job.succeeded else "failed"


__all__ = ["AsyncJob", "AsyncJobs", "job_body", "task_body", "task_list_body"]
