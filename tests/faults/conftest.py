"""The fault matrix borrows each flow family's own sandbox fixtures (one pytest process for all)."""

from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures
from tests.hotwax.conftest import actor, hotwax_sandbox  # noqa: F401
from tests.onetrail.conftest import hub, onetrail_sandbox, store  # noqa: F401
from tests.servicenow.conftest import s2p  # noqa: F401
from tests.vendors.conftest import netsuite, world  # noqa: F401
from tests.xseries.conftest import vend  # noqa: F401
