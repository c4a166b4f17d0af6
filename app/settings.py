"""Settings come from the environment, read in one place."""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    issuer: str = "pp"
    redis_url: str | None = None  # set: events cross processes over Redis pub/sub
    # Test-only fault: SIGKILL right after a commit, before its event is published (the
    # multi-process tests). An environment variable only: nothing on the network sets it.
    die_before_publish: bool = False
    # Where browsers and integrators reach this server: the OAuth2 issuer (`iss`), and the
    # base of the endpoints the metadata document names. Behind a proxy, its public URL.
    public_url: str = "http://127.0.0.1:8000"
    # POWERPERMIT_ENV=production: introspection and GraphiQL off, no debug detail anywhere.
    production: bool = False
    # Managers' single sign-on through an external OpenID Connect provider: off unless an
    # issuer is set (its discovery document at ISSUER/.well-known/openid-configuration).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # Webhook URLs on loopback or private addresses are refused unless this is set (tests,
    # a receiver on the same host): a client must not make the server probe its own network.
    webhook_allow_private: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(os.environ.get("POWERPERMIT_DATA_DIR", "var")).resolve()
        # SQLite runs on the stdlib driver (app/store/database.py), whatever the URL names.
        default_db = f"sqlite:///{data_dir / 'powerpermit.db'}"
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("DATABASE_URL", default_db),
            redis_url=os.environ.get("REDIS_URL") or None,
            die_before_publish=os.environ.get("POWERPERMIT_TEST_DIE_BEFORE_PUBLISH") == "1",
            public_url=os.environ.get("POWERPERMIT_PUBLIC_URL", cls.public_url).rstrip("/"),
            production=os.environ.get("POWERPERMIT_ENV", "development") == "production",
            oidc_issuer=os.environ.get("POWERPERMIT_OIDC_ISSUER") or None,
            oidc_client_id=os.environ.get("POWERPERMIT_OIDC_CLIENT_ID") or None,
            oidc_client_secret=os.environ.get("POWERPERMIT_OIDC_CLIENT_SECRET") or None,
            webhook_allow_private=os.environ.get("POWERPERMIT_WEBHOOK_ALLOW_PRIVATE") == "1",
        )

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "keys" / "permit-signing.ed25519"

    @property
    def access_token_keys_path(self) -> Path:
        """The OAuth2 access tokens' own key set, apart from the permit-signing keys."""
        return self.data_dir / "keys" / "access-tokens.jwks.json"
