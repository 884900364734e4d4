"""``GET /rest/tokeninfo``: who a token acts as (company, role, entity), on the RESTlet domain.

Oracle documents the token endpoints on ``https://<account>.restlets.api.netsuite.com`` ("Issue Token and
Revoke Token REST Services": issue, revoke, and obtain information about a token) and the ``netsuite`` client
calls ``GET .../rest/tokeninfo`` with the same TBA (or bearer) authorization as every other call. The
response's field names are not in the public docs (reference §8, open question); the sandbox answers the
company, role and entity the token was issued for, as ids and names, which is what integrators read it for.
The sandbox serves every domain on one port, so the path works on whichever host the client used.
"""

from __future__ import annotations

from typing import Any

TOKENINFO_PATH = "/rest/tokeninfo"

#: the identity the sandbox's credentials belong to (the integration user and role of the emulated account)
COMPANY_NAME = "po-sync Sandbox Company"
ROLE_ID = 3
ROLE_NAME = "Administrator"
ENTITY_ID = 7
ENTITY_NAME = "po-sync Integration"


def token_info(realm: str, auth_mode: str) -> dict[str, Any]:
    """The body of ``GET /rest/tokeninfo``.

    :param realm: the account id (``1234567_SB1``).
    :param auth_mode: ``tba`` or ``m2m`` (what the request authenticated with).
    """
    return {
        "companyId": realm,
        "companyName": COMPANY_NAME,
        "roleId": ROLE_ID,
        "roleName": ROLE_NAME,
        "entityId": ENTITY_ID,
        "entityName": ENTITY_NAME,
        "integrationName": "po-sync",
        "authenticationType": "OAuth 2.0" if auth_mode == "m2m" else "Token-based Authentication",
    }
