"""Write the OpenAPI document generated from the app (`make openapi`)."""

import json
import sys
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, independent of whether /docs is switched on."""
    from app.core.settings import get_settings
    from app.main import create_app

    settings = get_settings().model_copy(update={"docs_enabled": True})
    return create_app(settings).openapi()


def render() -> str:
    """The committed form: sorted keys, two-space indent, trailing newline."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "openapi/openapi.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
