"""Which errors Airflow should retry: transient ones with backoff, fatal ones never.

A :class:`~po_sync.exceptions.ConfigurationError` (a missing connection, a broken Variable) or a
:class:`~po_sync.exceptions.FatalError` (a refusal such as a rejected login) gives the same answer on
every try, so waiting out two retries only delays the alert. :func:`fail_fast_on_fatal` turns them
into Airflow's ``AirflowFailException``: the task fails at once, no retries, with the original
error as the message and the cause. Everything else (``RetriableError``, ``SystemUnavailableError``,
a ledger that cannot be reached) propagates unchanged and keeps the DAG's retries with exponential
backoff (:func:`po_sync.dag_defaults.default_args`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from po_sync.exceptions import ConfigurationError, FatalError

#: Errors that no retry can fix.
NOT_RETRIABLE: tuple[type[BaseException], ...] = (ConfigurationError, FatalError)


@contextmanager
def fail_fast_on_fatal() -> Iterator[None]:
    """Re-raise a :data:`NOT_RETRIABLE` error as ``AirflowFailException`` (failed, not up for retry)."""
    try:
        yield
    except NOT_RETRIABLE as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"{type(exc).__name__}: {exc} (not retried: retrying cannot help)"
        ) from exc
