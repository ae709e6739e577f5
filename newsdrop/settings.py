"""Settings: command-line options > NEWSDROP_* environment > config file > defaults.

The config file is NEWSDROP_CONFIG, or ./newsdrop.toml when present, e.g.

    inbox = "/srv/drops/inbox"
    data = "/srv/newsdrop"
    settle_seconds = 5
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

# Package data of newsdrop.flows, found the same way in a wheel and in an editable install.
SAMPLE_INBOX = Path(str(files("newsdrop.flows") / "sample_inbox"))


def config_file() -> Path:
    return Path(os.environ.get("NEWSDROP_CONFIG", "newsdrop.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDROP_", extra="ignore")

    inbox: Path = SAMPLE_INBOX
    data: Path = Path("data")
    settle_seconds: float = 2.0
    """Drops modified this recently are stat'ed again after this long; one still changing
    is left for the next run."""
    max_bytes: int = 16 * 1024 * 1024
    """Larger files are rejected `too_large` without being read whole."""
    batch_size: int = 1000
    """Files per read task: Prefect costs about 17 ms per task run, so tasks are per batch."""
    workers: int = max(1, os.cpu_count() or 1)
    """Batches read in parallel, each in its own process."""
    lock_wait_seconds: float = 0.0
    """How long a run waits for another run on the same data folder before giving up."""
    run_timeout_seconds: float = 6 * 3600
    """A run that takes longer fails (Prefect's flow timeout); its uncommitted work is undone."""

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


def load_settings(**overrides: object) -> Settings:
    """Settings with the given non-None overrides (command-line options) on top."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})  # type: ignore[arg-type]
