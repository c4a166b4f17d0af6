"""Settings come from the environment, read in one place."""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    issuer: str = "pp"

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(os.environ.get("POWERPERMIT_DATA_DIR", "var")).resolve()
        # SQLite runs on the stdlib driver (app/store/database.py), whatever the URL names.
        default_db = f"sqlite:///{data_dir / 'powerpermit.db'}"
        return cls(data_dir=data_dir, database_url=os.environ.get("DATABASE_URL", default_db))

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "keys" / "permit-signing.ed25519"
