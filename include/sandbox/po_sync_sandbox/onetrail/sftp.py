"""Onetrail's sFTP (``sftp.onetrail.net:2222`` / ``acc-sftp``) on loopback: the buyer's GLN home tree.

The same asyncssh server as HotWax's stand-in, with its own root, keys and connection
(``onetrail_sftp``), and the folders Onetrail gives a buyer (``external-systems.md`` §2.3):
``/<GLN>/In/{Orders,InvRpt,SlsRpt}``, ``/<GLN>/Out/{Desadv,Invoice,OrdRsp,Items,RC,Stock}`` and the
same under ``/<GLN>/Test/`` for pre-production.
"""

from __future__ import annotations

import posixpath

from po_sync_sandbox.onetrail.world import BUYER_GLN
from po_sync_sandbox.sftp import SftpService

IN_FOLDERS = ("Orders", "InvRpt", "SlsRpt")
OUT_FOLDERS = ("Desadv", "Invoice", "OrdRsp", "Items", "RC", "Stock")
USERNAME = "onetrail"
PASSWORD = "onetrail-sandbox-password"  # sandbox only; the emitted connection uses the key


def gln_tree(gln: str) -> tuple[str, ...]:
    """Every folder of a buyer's home, production and ``Test/``."""
    folders = []
    for base in (gln, posixpath.join(gln, "Test")):
        folders += [posixpath.join(base, "In", name) for name in IN_FOLDERS]
        folders += [posixpath.join(base, "Out", name) for name in OUT_FOLDERS]
    return tuple(folders)


class OnetrailSftpService(SftpService):
    """The Onetrail sFTP stand-in for one buyer GLN.

    :param port: TCP port; ``0`` picks a free one.
    :param gln: the buyer's GLN (its home folder).
    """

    name = "onetrail_sftp"

    def __init__(self, port: int = 0, gln: str = BUYER_GLN) -> None:
        super().__init__(
            port=port,
            conn_id="onetrail_sftp",
            username=USERNAME,
            password=PASSWORD,
            directories=gln_tree(gln),
        )
        self.gln = gln
