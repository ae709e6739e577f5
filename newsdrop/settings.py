"""Settings: command-line options (or API arguments) > NEWSDROP_* environment > config file > defaults.

The config file is NEWSDROP_CONFIG (which must exist), or ./newsdrop.toml when present, e.g.

    inbox = "/srv/drops/inbox"
    data = "/srv/newsdrop"
    settle_seconds = 5
    max_bytes = "16MiB"

Every setting has a range; a bad value, an unknown key or a broken file fails at
once, before any work, with one line naming the setting, where it came from and
what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
import warnings
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ByteSize, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from newsdrop.errors import NewsdropError
from newsdrop.warehouse.catalog import parse_catalog
from newsdrop.warehouse.faults import FAULT_ENV
from newsdrop.warehouse.inbox import check_inbox
from newsdrop.warehouse.layout import DataLayout

# Package data of newsdrop.flows, found the same way in a wheel and in an editable install.
SAMPLE_INBOX = Path(str(files("newsdrop.flows") / "sample_inbox"))
ENV_PREFIX = "NEWSDROP_"


class SettingsError(NewsdropError):
    """A setting is missing or out of range: the message names it, its source and what is allowed."""


class UnknownVariable(UserWarning):
    """A NEWSDROP_* environment variable that names no setting (a misspelling, most likely): it
    is ignored, and said so once (a toml file's unknown key is an error; a variable may be set
    for other programs too)."""


def config_file() -> Path:
    return Path(os.environ.get("NEWSDROP_CONFIG", "newsdrop.toml"))


def _not_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _location(value: Any) -> Any:
    """A folder path or an s3:// URL, as a string (pathlib would fold the URL's //)."""
    value = _not_empty(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and value.startswith("s3://"):
        if len(value.rstrip("/")) <= len("s3://"):
            raise ValueError("an s3:// URL names a bucket")
        return value.rstrip("/")
    return value


Folder = Annotated[str, BeforeValidator(_location)]
def _catalog(value: str) -> str:
    try:
        return str(parse_catalog(value))
    except NewsdropError as error:
        raise ValueError(str(error)) from None


Catalog = Annotated[str, AfterValidator(_catalog)]
Seconds = Annotated[float, AfterValidator(_finite)]


class Settings(BaseSettings):
    # Each setting is declared here once: its type, default and range, and (its docstring) what
    # it means, from which the command-line help, the NEWSDROP_* name, the toml key, the API's
    # keyword argument and the README's settings table all come (tests/test_settings.py).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", use_attribute_docstrings=True)

    inbox: Folder | None = None
    """The folder (or s3:// URL) drops arrive in; read-only to newsdrop. No default: `newsdrop run
    --sample` takes in the bundled sample."""
    data: Folder = "data"
    """The warehouse: a folder (catalog.sqlite, lake/, raw/), new or empty the first time and
    apart from the inbox, or an s3:// URL for lake/ and raw/ (which needs a PostgreSQL catalog)."""
    catalog: Catalog = "sqlite"
    """The DuckLake catalog: sqlite (DATA/catalog.sqlite), or "postgres:dbname=.. host=.. user=.."
    (the password from PGPASSWORD or ~/.pgpass)."""
    dask: str | None = None
    """A Dask scheduler's address (tcp://HOST:8786): batches are read on that cluster, the commits
    stay in the run's process. None: local processes."""
    settle_seconds: Seconds = Field(2.0, ge=0, le=3600)
    """Drops modified this recently are looked at again after this long; one still changing is
    left for the next run."""
    max_bytes: ByteSize = Field(ByteSize(16 * 1024 * 1024), gt=0)
    """Larger files are rejected `too_large` without being read whole; taken again once the limit
    allows."""
    batch_size: int = Field(2500, ge=1, le=1_000_000)
    """Files per read-batch task and per lake commit (Prefect costs about 17 ms per task run)."""
    workers: int = Field(max(1, os.cpu_count() or 1), ge=1, le=256)
    """Batches read in parallel, each in its own process."""
    lock_wait_seconds: Seconds = Field(0.0, ge=0)
    """How long a run waits for another run on the same data folder (or catalog) before giving
    up with exit 3 (RunInProgress)."""
    run_timeout_seconds: Seconds = Field(6 * 3600.0, gt=0, le=30 * 86400)
    """A run that takes longer fails: checked between batches, and a query still running then is
    interrupted; its committed batches are kept."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


ALLOWED = {
    "inbox": "a folder path or an s3:// URL",
    "data": "a folder path or an s3:// URL, not empty",
    "catalog": "sqlite, or postgres: with libpq parameters and no password",
    "dask": "a Dask scheduler address, e.g. tcp://scheduler:8786",
    "settle_seconds": "seconds from 0 to 3600",
    "max_bytes": "a size above 0, in bytes or with a unit (16MiB, 500kB)",
    "batch_size": "a whole number from 1 to 1000000",
    "workers": "a whole number from 1 to 256",
    "lock_wait_seconds": "seconds, 0 or more",
    "run_timeout_seconds": "seconds, above 0 and up to 30 days",
}


# Two settings have shorter command-line options than their names.
_OPTIONS = {"lock_wait_seconds": "--wait", "run_timeout_seconds": "--timeout"}


def option_of(name: str) -> str:
    """A setting's command-line option."""
    return _OPTIONS.get(name, f"--{name.replace('_', '-')}")


def env_of(name: str) -> str:
    """A setting's environment variable."""
    return f"{ENV_PREFIX}{name.upper()}"


def _size(size: int) -> str:
    """A byte size as a person writes it (16MiB), in the largest unit that divides it."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _default_of(name: str) -> str:
    field = Settings.model_fields[name]
    if name == "workers":
        return "the CPUs"
    if isinstance(field.default, ByteSize):
        return _size(field.default)
    return "none" if field.default is None else f"{field.default:g}" if isinstance(field.default, float) else str(
        field.default)


def help_of(name: str) -> str:
    """A setting's command-line help: what it means, what is allowed, its default and variable."""
    field = Settings.model_fields[name]
    meaning = " ".join((field.description or "").split())
    return f"{meaning} Allowed: {ALLOWED[name]}. Default: {_default_of(name)} ({env_of(name)})."


def settings_table() -> str:
    """The README's table of every setting (tests/test_settings.py keeps the README's copy equal)."""
    rows = ["| setting (toml key, API argument) | option | variable | default | allowed | meaning |",
            "|---|---|---|---|---|---|"]
    rows += [f"| `{name}` | `{option_of(name)}` | `{env_of(name)}` | {_default_of(name)} | {ALLOWED[name]} | "
             f"{' '.join((field.description or '').split())} |" for name, field in Settings.model_fields.items()]
    return "\n".join(rows) + "\n"


def _source(name: str, given: dict[str, Any]) -> str:
    if name in given:
        return f"option {option_of(name)}"
    if env_of(name) in os.environ:
        return f"environment variable {env_of(name)}"
    return f"config file {config_file()}"


def _describe(error: ValidationError, given: dict[str, Any]) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    if first["type"] == "extra_forbidden":
        return f"unknown setting {name!r} in {_source(name, given)}; the settings are: {', '.join(ALLOWED)}"
    if name == "catalog":  # its value is not echoed: it may hold a password
        return f"catalog ({_source(name, given)}): {first['msg'].removeprefix('Value error, ')}"
    value = first.get("input")
    return f"{name} = {value!r} ({_source(name, given)}) is not allowed: {ALLOWED.get(name, first['msg'])}"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """What to say of each NEWSDROP_* variable that is no setting: its name and the nearest one's."""
    variables = [env_of(name) for name in Settings.model_fields] + ["NEWSDROP_CONFIG"]
    said = []
    for variable in sorted(environ):
        # pydantic-settings reads variables in any case: so does this check.
        upper = variable.upper()
        if upper.startswith(ENV_PREFIX) and upper not in {*variables, FAULT_ENV}:
            nearest = _nearest(upper.removeprefix(ENV_PREFIX), [name.removeprefix(ENV_PREFIX) for name in variables])
            hint = (f"did you mean {ENV_PREFIX}{nearest}?" if nearest
                    else f"the variables are {', '.join(variables)}")
            said.append(f"{variable} is not a newsdrop setting and is ignored: {hint}")
    return said


def _nearest(word: str, names: list[str]) -> str | None:
    """The name a misspelt or shortened one meant (MAX_BYTE, BATCHSIZE, TIMEOUT, DATA_DIR), if any."""
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    overlapping = [name for name in names if word in name or name in word]
    return overlapping[0] if len(overlapping) == 1 else None


_said: set[str] = set()  # a process says each once, not once per command or API call


def load_settings(**overrides: object) -> Settings:
    """Settings with the given non-None overrides (command-line options, API arguments) on top."""
    for message in unknown_variables(os.environ):
        if message not in _said:
            _said.add(message)
            warnings.warn(message, UnknownVariable, stacklevel=2)
    given = {key: value for key, value in overrides.items() if value is not None}
    explicit = "NEWSDROP_CONFIG" in os.environ
    if explicit and not config_file().is_file():
        raise SettingsError(f"config file {config_file()} (NEWSDROP_CONFIG) does not exist")
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error, given)) from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"config file {config_file()} is not valid TOML: {error}") from None


def require_inbox(settings: Settings) -> str:
    """The inbox a run reads: given, and an existing folder (or an s3:// prefix)."""
    if settings.inbox is None:
        raise SettingsError("no inbox given: pass --inbox DIR (or set NEWSDROP_INBOX, or inbox in newsdrop.toml); "
                            "`newsdrop run --sample` takes in the bundled sample drops")
    try:
        check_inbox(settings.inbox)
        data_layout(settings).refuse_overlap(settings.inbox)
    except NewsdropError as error:
        raise SettingsError(str(error)) from None
    return settings.inbox


def data_layout(settings: Settings) -> DataLayout:
    """Where the settings' warehouse lives: its data location and its catalog."""
    return DataLayout(settings.data, parse_catalog(settings.catalog))
