"""Settings from the environment (prefix THROUGHCARE_)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as THROUGHCARE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="THROUGHCARE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/throughcare.db"
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "throughcare-api"
    token_lifetime_seconds: int = Field(default=900, ge=60, le=86400)
    signing_key_path: Path = Path("var/signing-key.pem")
    token_leeway_seconds: int = Field(default=10, ge=0, le=30)
    # How long a "still active" answer is reused per process (0: check every request).
    active_check_cache_seconds: float = Field(default=3.0, ge=0, le=60)
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_timeout_seconds: float = 3.0
    oidc_jwks_cache_seconds: int = 300
    cors_origins: list[str] = []
    docs_enabled: bool = True
    # The base URLs the OpenAPI document names (`servers`), for generated clients.
    openapi_servers: list[str] = ["http://127.0.0.1:8000"]
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    default_page_size: int = Field(default=25, ge=1, le=1000)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=300, ge=1)
    break_glass_minutes: int = Field(default=60, ge=1, le=24 * 60)
    break_glass_min_justification: int = Field(default=40, ge=10)
    directory_stale_days: int = Field(default=90, ge=1)
    # Open the service directory's read endpoints (the list, one entry, the HSDS export and
    # the Open Referral feed) to callers without a token. Directory entries describe
    # services, not people; everything else still needs a token.
    public_directory: bool = False
    # Statistics: a count below this is reported as suppressed (docs/governance.md).
    # Retention (`throughcare retention run`): draft referrals untouched this many days are
    # deleted; the records of people whose intervention ended this many years ago purged.
    retention_draft_referral_days: int = Field(default=90, ge=1)
    retention_ended_years: int = Field(default=6, ge=1, le=100)
    statistics_suppression_threshold: int = Field(default=5, ge=1, le=1000)
    # A submitted referral not accepted or declined within this many hours is overdue.
    referral_response_hours_routine: int = Field(default=240, ge=1)
    referral_response_hours_soon: int = Field(default=72, ge=1)
    referral_response_hours_urgent: int = Field(default=24, ge=1)
    # Days after release on which "no contact yet" raises a notice to the lead organisation.
    engagement_notice_days: list[Annotated[int, Field(ge=0, le=366)]] = Field(
        default=[7, 28], min_length=1, max_length=10
    )
    # A plan review this many days before the intervention end counts as reviewing for it.
    ending_review_window_days: int = Field(default=28, ge=1, le=366)
    # Documents (attachments): the largest accepted upload, and an optional ClamAV daemon
    # ("host:port"); with one configured, files are held as pending until scanned clean.
    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    clamav_address: str | None = None
    clamav_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    log_level: str = "INFO"
    # Webhooks (app/services/delivery.py, app/services/webhook_http.py).
    webhook_allow_http: bool = False  # https only unless set (tests deliver to loopback)
    # Networks a webhook may reach although not public (e.g. ["127.0.0.1/32"] in tests).
    webhook_allowed_networks: list[str] = []
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_response_bytes: int = Field(default=65_536, ge=1024)
    # Seconds to wait before each retry (Standard Webhooks' schedule: about 27 hours in all).
    webhook_retry_schedule: list[float] = [5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_secret_grace_hours: int = Field(default=24, ge=0, le=24 * 30)
    # The AES-256-GCM key the subscriptions' signing secrets are encrypted with at rest
    # (app/services/secret_box.py): created 0600 on first use; keep it out of the database
    # and its backups' reach, and back it up with the signing key.
    webhook_secret_key_path: Path = Path("var/webhook-secret-key")
    # Key files replaced by the one above and not yet retired: stored secrets still
    # decrypt under them until `throughcare webhooks reencrypt` has moved every row to the
    # current key (JSON list, e.g. '["/keys/webhook-secret-key.2026"]').
    webhook_secret_previous_key_paths: list[Path] = []
    # Where `serve --workers N` (N > 1) keeps the processes' request metrics so that
    # /metrics sums them (app/core/metrics.py); emptied at each start.
    metrics_multiproc_dir: Path = Path("var/metrics")
    # Start the delivery worker inside `serve` (the embedded single-node mode).
    embedded_worker: bool = True
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    worker_batch_size: int = Field(default=20, ge=1, le=1000)
    # Migrations (and `throughcare db grant`) connect as the owner of the tables; the
    # service connects with `database_url` as an application role that owns nothing.
    migration_database_url: str | None = None
    # Signed checkpoints of the audit chains (docs/decisions/0005). The key never goes
    # into the database; the directory should be one the database role cannot write.
    audit_checkpoint_dir: Path = Path("var/audit-checkpoints")
    audit_checkpoint_key_path: Path = Path("var/audit-checkpoint-key.pem")
    # Seconds between checkpoints written by each serving process; 0 disables them.
    audit_checkpoint_interval_seconds: int = Field(default=300, ge=0)

    # Database failure handling (issue 9): a stalled or failing database is answered with
    # a 503 within these bounds instead of holding requests (and threads) indefinitely.
    db_connect_timeout_seconds: int = Field(default=5, ge=2, le=120)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)  # PostgreSQL; 0 = none
    db_lock_timeout_ms: int = Field(default=5_000, ge=0)  # PostgreSQL; 0 = none
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)
    # Connections to the SQLite file per process. SQLite lets one transaction write at a
    # time and every request here is a write (its audit row), so more connections only
    # add page caches (~2 MB each) and lock retries; requests beyond these wait in the
    # pool (up to `db_pool_timeout_seconds`) instead.
    sqlite_pool_size: int = Field(default=4, ge=1, le=64)
    # Page cache of each SQLite connection, KiB (SQLite's own default, 2000). Smaller saves
    # memory per worker (200: ~16 MB less after list load at 100k people) for more reads
    # from the operating system's file cache.
    sqlite_cache_kib: int = Field(default=2000, ge=100, le=1_000_000)
    db_retry_after_seconds: int = Field(default=2, ge=1, le=3600)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # /readyz reports the database full when its filesystem has less than this free.
    readiness_min_free_bytes: int = Field(default=16 * 1024 * 1024, ge=0)

    @property
    def owner_database_url(self) -> str:
        """The URL migrations run with (the owner role; the service's URL when unset)."""
        return self.migration_database_url or self.database_url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to change them)."""
    return Settings()
