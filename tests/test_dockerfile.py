"""The image runs as an unprivileged user whose only writable place is the /data volume
(the source tree belongs to root), so every setting whose default is a path under the
working tree's var/ must be pointed elsewhere by the Dockerfile's final stage."""

import re
from pathlib import Path

from app.core.settings import Settings

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


def _final_stage_env() -> dict[str, str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env |= dict(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_every_default_under_var_is_moved_to_a_writable_place() -> None:
    env = _final_stage_env()
    under_var = [
        name
        for name, field in Settings.model_fields.items()
        if "var/" in str(field.default) or str(field.default).startswith("var")
    ]
    assert "audit_checkpoint_dir" in under_var  # the test reads the settings it should
    for name in under_var:
        key = f"THROUGHCARE_{name.upper()}"
        assert key in env, f"{key} is not set in the image: its default is under var/"
        assert env[key].split("///")[-1].startswith(("/data/", "/tmp/")), env[key]
