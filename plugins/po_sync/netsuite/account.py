"""NetSuite account ids and the hosts and OAuth realm derived from them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from po_sync.exceptions import ConfigurationError

#: Where every SuiteTalk REST path lives on an account's host.
REST_PATH = "/services/rest"

_ACCOUNT_RE = re.compile(r"^[0-9A-Za-z]+([_-][A-Za-z]+[0-9]*)?$")


@dataclass(frozen=True)
class NetSuiteAccount:
    """One NetSuite account as the REST API addresses it.

    :param account_id: the account id as configured (``1234567``, ``1234567_SB1`` or ``1234567-sb1``).
    :param base_url_override: a base URL to use instead of the account's SuiteTalk host (sandbox, tests).
    """

    account_id: str
    base_url_override: str | None = None

    def __post_init__(self) -> None:
        if not self.account_id or not _ACCOUNT_RE.fullmatch(self.account_id.strip()):
            raise ConfigurationError(
                f"NetSuite account id {self.account_id!r} is not like 1234567 or 1234567_SB1"
            )

    @property
    def realm(self) -> str:
        """The OAuth 1.0a realm: upper case with an underscore (``1234567_SB1``)."""
        return self.account_id.strip().replace("-", "_").upper()

    @property
    def host(self) -> str:
        """The SuiteTalk REST host: lower case with a hyphen (``1234567-sb1.suitetalk.api.netsuite.com``)."""
        return f"{self.account_id.strip().replace('_', '-').lower()}.suitetalk.api.netsuite.com"

    @property
    def base_url(self) -> str:
        """Scheme and host (and port) that every REST path is appended to, without a trailing slash."""
        if self.base_url_override:
            url = self.base_url_override.strip().rstrip("/")
            if "://" not in url:
                url = f"https://{url}"
            return url
        return f"https://{self.host}"

    @property
    def rest_root(self) -> str:
        """``<base_url>/services/rest``."""
        return f"{self.base_url}{REST_PATH}"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint, also the ``aud`` of the M2M client assertion."""
        return f"{self.rest_root}/auth/oauth2/v1/token"
