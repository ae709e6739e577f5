"""Settings are validated up front: one line naming the setting, its source and what is allowed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import make_inbox, newsdrop

from newsdrop.settings import SettingsError, load_settings
from newsdrop.warehouse.layout import PREFECT_DATABASE, DataLayout
from newsdrop.warehouse.lock import file_lock


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("NEWSDROP_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray newsdrop.toml


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("NEWSDROP_MAX_BYTES", "-5", "max_bytes"),
    ("NEWSDROP_MAX_BYTES", "ten", "max_bytes"),
    ("NEWSDROP_SETTLE_SECONDS", "abc", "settle_seconds"),
    ("NEWSDROP_RUN_TIMEOUT_SECONDS", "nan", "run_timeout_seconds"),
    ("NEWSDROP_RUN_TIMEOUT_SECONDS", "0", "run_timeout_seconds"),
    ("NEWSDROP_BATCH_SIZE", "0", "batch_size"),
    ("NEWSDROP_WORKERS", "-3", "workers"),
    ("NEWSDROP_LOCK_WAIT_SECONDS", "-1", "lock_wait_seconds"),
    ("NEWSDROP_DATA", "", "data"),
])
def test_a_bad_environment_value_fails_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str,
                                                    value: str, words: str) -> None:
    monkeypatch.setenv(variable, value)
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    data = [] if variable == "NEWSDROP_DATA" else ["--data", str(tmp_path / "data")]
    result = newsdrop("run", "--inbox", str(inbox), *data)
    assert result.exit_code == 1
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert words in line and f"environment variable {variable}" in line and "not allowed" in line
    assert not (tmp_path / "data").exists()  # failed before anything was written


def test_human_sizes_are_welcome() -> None:
    assert load_settings(max_bytes="16MiB").max_bytes == 16 * 1024 * 1024
    assert load_settings(max_bytes="10k").max_bytes == 10_000


def test_an_option_names_itself_as_the_source() -> None:
    with pytest.raises(SettingsError, match="option --batch-size"):
        load_settings(batch_size=0)


def test_an_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "newsdrop.toml").write_text('data = "d"\nsettle_secnds = 5\n')
    with pytest.raises(SettingsError, match="unknown setting 'settle_secnds' in config file"):
        load_settings()


def test_a_bad_value_in_the_config_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "newsdrop.toml").write_text("workers = 0\n")
    with pytest.raises(SettingsError, match=r"workers = 0 \(config file newsdrop.toml\)"):
        load_settings()


def test_a_broken_config_file_fails_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "newsdrop.toml").write_text("data = \n")
    result = newsdrop("status")
    assert result.exit_code == 1
    assert result.output.startswith("newsdrop: config file newsdrop.toml is not valid TOML")


def test_a_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDROP_CONFIG", "/nonexistent.toml")
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_run_without_an_inbox_says_how_to_give_one(tmp_path: Path) -> None:
    result = newsdrop("run", "--data", str(tmp_path / "data"))
    assert result.exit_code == 1
    assert "no inbox given" in result.output and "--inbox" in result.output and "--sample" in result.output
    assert not (tmp_path / "data").exists()


def test_a_missing_inbox_fails_at_once_and_writes_nothing(tmp_path: Path) -> None:
    result = newsdrop("run", "--inbox", str(tmp_path / "nope"), "--data", str(tmp_path / "data"))
    assert result.exit_code == 1
    assert result.output.startswith("newsdrop: no inbox folder at")
    assert not (tmp_path / "data").exists()


def test_a_busy_data_folder_is_refused_before_prefect_starts(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    with file_lock(DataLayout(data).lock):
        result = newsdrop("run", "--inbox", str(inbox), "--data", str(data))
    assert result.exit_code == 3
    assert "another newsdrop run is in progress" in result.output


@pytest.mark.parametrize("schedule", [["--every", "0"], ["--every", "-1"], ["--cron", "not a cron"]])
def test_serve_refuses_a_bad_schedule_at_once(tmp_path: Path, schedule: list[str]) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    result = newsdrop("serve", "--inbox", str(inbox), "--data", str(tmp_path / "data"), *schedule)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("newsdrop: --")
    assert not (tmp_path / "data").exists()


@pytest.mark.usefixtures("prefect_api")
def test_a_file_rejected_as_too_large_is_taken_when_the_limit_is_raised(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    import newsdrop as api

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    small = api.ingest(inbox, data, settle_seconds=0, max_bytes=100, workers=1)
    assert small.drops_loaded == 0 and {reason for _, reason in small.rejects} >= {"too_large"}
    again = api.ingest(inbox, data, settle_seconds=0, max_bytes=100, workers=1)
    assert again.files_new == 0  # nothing retried while the limit stands
    raised = api.ingest(inbox, data, settle_seconds=0, workers=1)
    assert raised.drops_loaded == 34
    assert api.query(data, "SELECT count(*) AS n FROM drops")["n"][0] == 34


@pytest.mark.usefixtures("prefect_api")
def test_status_says_where_prefect_keeps_the_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import newsdrop as api

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    api.ingest(inbox, data, settle_seconds=0, workers=1)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    # A run from Python records nothing in Prefect: no folder is named.
    assert api.status(data)["prefect"] == {"home": None}
    assert "Prefect runs: none recorded on this machine" in newsdrop("status", "--data", str(data)).output
    home = DataLayout(data).prefect_home
    home.mkdir(parents=True)
    (home / PREFECT_DATABASE).write_bytes(b"")  # where `newsdrop run` keeps its runs
    assert api.status(data)["prefect"]["home"] == str(home)
    assert f"Prefect runs: in {home}" in newsdrop("status", "--data", str(data)).output
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    assert api.status(data)["prefect"] == {"api_url": "http://prefect.example:4200/api"}


@pytest.mark.usefixtures("prefect_api")
def test_status_refuses_a_missing_inbox_instead_of_dropping_the_backlog(tmp_path: Path) -> None:
    import newsdrop as api

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    api.ingest(inbox, data, settle_seconds=0, workers=1)
    result = newsdrop("status", "--data", str(data), "--inbox", str(tmp_path / "nope"))
    assert result.exit_code == 1 and result.output.startswith("newsdrop: no inbox folder at")
    assert api.status(data, inbox)["backlog"] == {"files": 0, "in_inbox": 36}


def test_each_setting_is_declared_once_and_every_door_takes_it() -> None:
    """The settings' one declaration (newsdrop.settings.Settings) agrees with the README's table,
    the API's and the flows' keyword arguments, and the commands' options."""
    import inspect

    import newsdrop as api
    from newsdrop.flows import ingest as flows
    from newsdrop.settings import ALLOWED, Settings, option_of, settings_table

    names = list(Settings.model_fields)
    assert list(ALLOWED) == names
    assert settings_table() in (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert set(inspect.signature(api.ingest).parameters) == {*names, "hooks"}
    assert set(inspect.signature(flows.ingest.fn).parameters) == {*names, "announce"}
    rebuild = [name for name in inspect.signature(api.rebuild).parameters if name != "hooks"]
    assert set(inspect.signature(flows.rebuild.fn).parameters) == set(rebuild)
    assert set(rebuild) <= set(names)
    run_help, rebuild_help = newsdrop("run", "--help").output, newsdrop("rebuild", "--help").output
    for name in names:
        assert option_of(name) in run_help, name
    for name in rebuild:
        assert option_of(name) in rebuild_help, name
    # A bad value names the option it came from, as the user typed it.
    refused = newsdrop("run", "--inbox", str(DROPS), "--wait", "-1")
    assert refused.exit_code == 1 and "(option --wait)" in refused.output, refused.output


def test_a_misspelt_variable_is_said_with_the_nearest_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsdrop.settings as settings

    monkeypatch.setattr(settings, "_said", set())  # said once per process: this test's process says it again
    monkeypatch.setenv("NEWSDROP_MAX_BYTE", "1KiB")
    monkeypatch.setenv("NEWSDROP_TIMEOUT", "5")
    monkeypatch.setenv("NEWSDROP_INBOX", str(tmp_path))  # a real one: not said
    result = newsdrop("status", "--data", str(tmp_path / "data"))
    said = [line for line in result.output.splitlines() if line.startswith("newsdrop: warning:")]
    assert said == [
        "newsdrop: warning: NEWSDROP_MAX_BYTE is not a newsdrop setting and is ignored: did you mean "
        "NEWSDROP_MAX_BYTES?",
        "newsdrop: warning: NEWSDROP_TIMEOUT is not a newsdrop setting and is ignored: did you mean "
        "NEWSDROP_RUN_TIMEOUT_SECONDS?"]
    monkeypatch.setattr(settings, "_said", set())
    with pytest.warns(settings.UnknownVariable, match="did you mean NEWSDROP_MAX_BYTES"):
        assert load_settings().max_bytes == settings.Settings().max_bytes  # ignored
