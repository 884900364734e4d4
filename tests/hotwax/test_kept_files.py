"""Files kept in ``error/`` and ``archive/`` never replace each other or our own notes.

Before the fix: ``a\\nb.json`` and ``a?b.json`` both became ``error/a_b.json`` (one lost), a bad
name sent twice kept only the last copy, a partner file named ``<stem>.failed.json`` replaced the
failed orders we saved for ``<stem>.json``, and a file named ``..json`` was taken for an upload in
progress and never read nor reported.
"""

from __future__ import annotations

import pytest

from po_sync.sftp import NOTE_SUFFIXES, kept_names
from po_sync_sandbox.hotwax import RECEIPT_DIR, SETTLED_MTIME
from tests.hotwax.conftest import run_dag
from tests.hotwax.test_e2e_receipts import EXPORT, IMPORT

pytestmark = pytest.mark.e2e


def _drop(actor, name: str, text: str) -> None:
    path = actor.path(RECEIPT_DIR / name)
    path.write_text(text, "utf-8")
    import os

    os.utime(path, (SETTLED_MTIME, SETTLED_MTIME))


def _error_files(actor) -> dict[str, str]:
    folder = RECEIPT_DIR / "error"
    return {n: actor.path(folder / n).read_text() for n in actor.files(folder)}


def test_names_that_collapse_or_repeat_are_all_kept_beside_their_reports(dagbag, ledger_conn, actor):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor.import_purchase_orders()
    _drop(actor, "a\nb.json", "first: not json")
    _drop(actor, "a?b.json", "second: not json")
    _drop(actor, "..json", "third: not json")
    assert run_dag(dagbag, IMPORT).state == "success"
    _drop(actor, "a?b.json", "fourth: the same bad name again, other content")
    assert run_dag(dagbag, IMPORT).state == "success"

    assert actor.files(RECEIPT_DIR) == [], "every file was read and moved (..json too)"
    errors = _error_files(actor)
    kept = {n: t for n, t in errors.items() if not n.endswith(NOTE_SUFFIXES)}
    assert sorted(kept.values()) == sorted(
        [
            "first: not json",
            "second: not json",
            "third: not json",
            "fourth: the same bad name again, other content",
        ]
    ), errors.keys()
    for name in kept:
        assert f"{name}.errors.csv" in errors, f"{name} has its report beside it"
        assert "\n" not in name and "?" not in name and not name.startswith(".")
    assert sum("..json" in t or "'..json'" in t for t in errors.values()) >= 1, (
        "..json is named in its report"
    )


def test_a_partner_file_named_like_our_notes_replaces_none_of_them(dagbag, ledger_conn, actor):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor.import_purchase_orders()
    feed = actor.write_feed([{"order_id": "987654321", "items": [{"line_id": "1", "quantity": "1"}]}])
    stem = feed.removesuffix(".json")
    # the partner also sends files named like the notes we write for that feed
    _drop(actor, f"{stem}.failed.json", '[{"order_id": "impostor"')
    assert run_dag(dagbag, IMPORT).state == "success"

    errors = _error_files(actor)
    ours = [n for n in errors if n.endswith(".failed.json")]
    assert len(ours) == 1 and "987654321" in errors[ours[0]], "our saved failed order is intact"
    assert "impostor" not in errors[f"{ours[0]}.errors.csv"]
    (impostor,) = [n for n, t in errors.items() if t.startswith('[{"order_id": "impostor"')]
    assert not impostor.endswith(NOTE_SUFFIXES), "a kept partner file never ends like our notes"
    assert f"{impostor}.errors.csv" in errors, "and has its own report"


def test_kept_names_are_safe_distinct_and_never_note_names():
    names = [
        "a\nb.json",
        "a?b.json",
        "a_b.json",
        "x.json.error.txt",
        "s.failed.json",
        "r.json.errors.csv",
        "..json",
    ]
    firsts = [next(kept_names(n, "c" * 64)) for n in names]
    assert len(set(firsts)) == len(names), firsts
    assert firsts[2] == "a_b.json", "a safe name is kept as it is"
    for name in firsts:
        assert not name.endswith(NOTE_SUFFIXES) and not name.startswith(".")
        assert all(c.isalnum() or c in "._-" for c in name)
    # the same name with other content gets another tag
    assert next(kept_names("a?b.json", "1" * 64)) != next(kept_names("a?b.json", "2" * 64))
