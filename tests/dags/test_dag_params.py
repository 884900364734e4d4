"""Every DAG's trigger form can be submitted with its defaults.

The Airflow UI's trigger form (``FlexibleForm``) treats a param as *required* unless its JSON-schema
``type`` is a list holding ``"null"``, and refuses a required field that is empty (``null`` or
``""``: "This field is required"). The API then validates each value with ``jsonschema`` as
:meth:`Param.resolve` does. This test renders every param of every DAG with its default, applies
both checks, and then validates the whole params dict as a scheduled run does.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.dags.conftest import DAGS

DAG_IDS = sorted(p.stem for p in DAGS.glob("*.py") if not p.name.startswith("_"))


def ui_required(schema: dict[str, Any]) -> bool:
    """The UI's rule (``isRequired``): a typed field whose type does not include ``"null"``."""
    kind = schema.get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


def form_problems(dag: Any) -> list[str]:
    problems = []
    for name in dag.params:
        param = dag.params.get_param(name)
        schema = param.schema
        value = param.value
        if ui_required(schema) and value in (None, ""):
            problems.append(f"{dag.dag_id}.{name}: empty default on a required field (make it nullable)")
            continue
        try:
            jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as exc:
            problems.append(f"{dag.dag_id}.{name}: default {value!r} fails its schema: {exc.message}")
    return problems


def test_every_dag_file_has_a_dag(dagbag: Any) -> None:
    assert set(DAG_IDS) <= set(dagbag.dag_ids), "DAG ids are their file names"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_trigger_form_submits_with_defaults(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    assert form_problems(dag) == []
    dag.params.validate()  # what a scheduled run does with the defaults


def test_the_check_catches_a_required_empty_field() -> None:
    """The old ``vendor`` param (``type: string``, default ``""``) is what the UI refused."""
    from airflow.sdk import DAG, Param

    with DAG("bad_form", schedule=None, params={"vendor": Param("", type="string")}) as bad:
        pass
    with DAG("good_form", schedule=None, params={"vendor": Param(None, type=["null", "string"])}) as good:
        pass
    assert form_problems(bad) == ["bad_form.vendor: empty default on a required field (make it nullable)"]
    assert form_problems(good) == []


def test_the_check_catches_a_default_outside_its_schema() -> None:
    from airflow.sdk import DAG, Param

    with DAG("bad_default", schedule=None, params={"n": Param(0, type="integer", minimum=1)}) as bad:
        pass
    (problem,) = form_problems(bad)
    assert problem.startswith("bad_default.n: default 0 fails its schema")


@pytest.mark.parametrize("dag_id", ["netsuite_vendor_po_export", "vendor_fulfillment_merge"])
def test_only_this_vendor_is_optional(dagbag: Any, dag_id: str) -> None:
    param = dagbag.get_dag(dag_id).params.get_param("vendor")
    assert param.value is None
    assert "null" in param.schema["type"]
    assert param.resolve("V0001") == "V0001"


@pytest.mark.parametrize("remote_dir", ["../../etc", "/etc", "a/../b", "a/./b", "a\\b", "a\tb"])
def test_hotwax_remote_dir_outside_the_login_folder_is_refused_at_trigger(
    dagbag: Any, remote_dir: str
) -> None:
    """The trigger form and the REST API refuse it before a run exists (the operator checks again)."""
    param = dagbag.get_dag("hotwax_po_export").params.get_param("remote_dir")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(remote_dir, param.schema)
    jsonschema.validate("netsuite/purchaseorder/fulfillment", param.schema)
    jsonschema.validate("team.a/.inbox", param.schema)
