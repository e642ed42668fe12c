"""The stored policy (shared/spec/cors.md, "Changing the policy at run time"), real SQLite."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from firehouse.cors.policy import CORS_OFF, InvalidPolicy, parse_policy
from firehouse.cors.store import (
    STARTUP_ACTOR,
    STATE_NAME,
    StalePolicy,
    UnreadablePolicy,
    apply_startup_settings,
    history,
    load,
    merge,
    replace,
)
from firehouse.settings import resolve
from firehouse.storage import open_storage
from firehouse.storage.base import Storage

A = "https://a.example"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = open_storage(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.close()


def test_never_stored_is_version_0_with_cors_off(storage: Storage) -> None:
    stored = load(storage)
    assert (stored.policy, stored.version, stored.updated_by) == (CORS_OFF, 0, None)
    assert stored.to_json()["version"] == 0
    assert history(storage) == []


def test_replace_stores_the_whole_policy_normalised(storage: Storage) -> None:
    saved = replace(
        storage,
        {"origins": ["HTTPS://A.Example:443"], "methods": ["get"]},
        expected_version=0,
        actor="alice",
    )
    assert saved.changed and saved.stored.version == 1
    stored = load(storage)
    assert stored.policy.origins == (A,)  # case 17: normalised when stored
    assert stored.policy.methods == ("GET",)
    assert (stored.version, stored.updated_by) == (1, "alice")
    document = stored.to_json()
    assert document["origins"] == [A] and document["warnings"] == []
    assert set(document) >= {"origins", "headers", "methods", "maxAge", "allowCredentials"}


def test_replace_resets_settings_it_does_not_name(storage: Storage) -> None:
    replace(storage, {"origins": [A], "maxAge": 5}, expected_version=0, actor="a")
    replace(storage, {"origins": [A]}, expected_version=1, actor="a")
    assert load(storage).policy.max_age is None


def test_merge_changes_only_the_given_settings_and_null_resets_one(storage: Storage) -> None:
    replace(
        storage, {"origins": [A], "methods": ["GET"], "maxAge": 60}, expected_version=0, actor="a"
    )
    merge(storage, {"methods": ["GET", "PUT"]}, expected_version=1, actor="b")
    policy = load(storage).policy
    assert (policy.origins, policy.methods, policy.max_age) == ((A,), ("GET", "PUT"), 60)
    merge(storage, {"maxAge": None}, expected_version=2, actor="c")
    assert load(storage).policy.max_age is None


def test_a_write_that_changes_nothing_makes_no_new_version(storage: Storage) -> None:
    replace(storage, {"origins": [A]}, expected_version=0, actor="a")
    again = replace(storage, {"origins": ["https://A.example:443"]}, expected_version=1, actor="b")
    assert not again.changed and again.stored.version == 1
    assert not merge(storage, {"origins": [A]}, expected_version=None, actor="c").changed
    assert [c.version for c in history(storage)] == [1]
    # Saving the defaults over "never stored" is no change either.
    assert len(history(storage)) == 1


def test_a_stale_expected_version_is_refused_and_changes_nothing(storage: Storage) -> None:
    replace(storage, {"origins": [A]}, expected_version=0, actor="a")
    replace(storage, {"origins": [A, "https://b.example"]}, expected_version=1, actor="b")
    with pytest.raises(StalePolicy) as raised:
        merge(storage, {"methods": ["PUT"]}, expected_version=1, actor="late")
    assert (raised.value.expected, raised.value.current) == (1, 2)
    assert load(storage).version == 2 and load(storage).policy.methods == ()


def test_an_invalid_change_names_every_problem_and_changes_nothing(storage: Storage) -> None:
    replace(storage, {"origins": [A]}, expected_version=0, actor="a")
    with pytest.raises(InvalidPolicy) as raised:
        merge(
            storage,
            {"origins": ["*"], "allowCredentials": True, "maxAge": "10", "nope": 1},
            expected_version=1,
            actor="b",
        )
    ids = {p.id for p in raised.value.problems}
    assert ids == {"cors.E001", "cors.E002", "cors.E003"}  # unknown, "10" not a number, * + creds
    assert load(storage).policy.origins == (A,) and load(storage).version == 1


def test_merge_is_checked_against_the_stored_policy(storage: Storage) -> None:
    replace(storage, {"origins": [A], "allowCredentials": True}, expected_version=0, actor="a")
    with pytest.raises(InvalidPolicy) as raised:
        merge(storage, {"origins": ["*"]}, expected_version=None, actor="b")
    assert [p.id for p in raised.value.problems] == ["cors.E003"]


def test_read_only_members_of_the_document_are_ignored_on_write(storage: Storage) -> None:
    document = load(storage).to_json() | {"origins": [A]}
    saved = replace(storage, document, expected_version=0, actor="a")
    assert saved.stored.policy.origins == (A,)


def test_history_is_newest_first_with_actor_time_old_new_and_what_changed(storage: Storage) -> None:
    replace(storage, {"origins": [A]}, expected_version=0, actor="alice")
    merge(storage, {"maxAge": 60}, expected_version=1, actor="bob")
    newest, first = history(storage)
    assert (newest.version, newest.actor, first.version, first.actor) == (2, "bob", 1, "alice")
    assert newest.changed_settings == ["maxAge"]
    assert newest.old["maxAge"] is None and newest.new["maxAge"] == 60
    assert first.old is None and first.changed_settings == ["origins"]
    as_json = newest.to_json()
    assert as_json["changed"] == ["maxAge"] and as_json["time"].endswith("+00:00")


def test_startup_settings_merge_only_what_was_given(storage: Storage) -> None:
    replace(
        storage, {"origins": [A], "methods": ["GET"], "maxAge": 60}, expected_version=0, actor="a"
    )
    settings = resolve({"cors_methods": "GET PUT"}, environ={})
    saved = apply_startup_settings(storage, settings)
    assert saved is not None and saved.changed
    stored = load(storage)
    assert (stored.policy.origins, stored.policy.methods, stored.policy.max_age) == (
        (A,),
        ("GET", "PUT"),
        60,
    )
    assert stored.updated_by == STARTUP_ACTOR


def test_startup_settings_make_no_new_version_when_nothing_changes(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    settings = resolve({"cors_origins": A, "cors_max_age": "30"}, environ={})
    caplog.set_level(logging.INFO, "firehouse.cors")
    first = apply_startup_settings(storage, settings)
    second = apply_startup_settings(storage, settings)
    assert first is not None and second is not None
    assert first.changed and not second.changed and second.stored.version == 1
    assert "written from the start-up settings (origins, maxAge)" in caplog.text
    assert "already match the stored policy version 1" in caplog.text


def test_no_startup_settings_touch_nothing(storage: Storage) -> None:
    assert apply_startup_settings(storage, resolve({}, environ={})) is None
    assert storage.state_version(STATE_NAME) is None


def test_startup_settings_come_from_the_environment_and_toml_too(
    storage: Storage, tmp_path: Path
) -> None:
    config = tmp_path / "firehouse.toml"
    config.write_text("cors_max_age = 99\n")
    settings = resolve(
        {}, config_file=config, environ={"FIREHOUSE_CORS_ORIGINS": f"{A} https://b.example"}
    )
    apply_startup_settings(storage, settings)
    policy = load(storage).policy
    assert policy.origins == (A, "https://b.example") and policy.max_age == 99


def test_an_unreadable_stored_value_is_reported_and_can_be_replaced(storage: Storage) -> None:
    storage.write_state(STATE_NAME, '{"origins": ["ftp://x"]}', expected_version=None, actor="hand")
    with pytest.raises(UnreadablePolicy) as raised:
        load(storage)
    assert raised.value.version == 1 and "ftp://x" in raised.value.reason
    with pytest.raises(UnreadablePolicy):
        merge(storage, {"maxAge": 1}, expected_version=1, actor="a")  # nothing good to merge onto
    saved = replace(storage, {"origins": [A]}, expected_version=1, actor="a")
    assert saved.stored.version == 2 and load(storage).policy == parse_policy({"origins": [A]})
    assert json.loads(storage.read_state(STATE_NAME).value)["origins"] == [A]  # type: ignore[union-attr]
