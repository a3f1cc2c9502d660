"""/docs and /redoc render the operations in a real headless browser, with no network.

The browser is Debian's `chromium` (.ci/run installs it under CI=true). Every request
that is not to the loopback server goes to a dead proxy on 127.0.0.1, so a page that
needed a CDN would render nothing.
"""

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from app.core.settings import get_settings
from app.main import create_app

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None and os.environ.get("CI") != "true",
    reason="no headless chromium here (apt-get install chromium); CI installs it",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = create_app(get_settings().model_copy(update={"docs_enabled": True}))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the docs server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _rendered(url: str) -> str:
    assert BROWSER, "CI=true must have chromium (.ci/run installs it)"
    result = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=http://127.0.0.1:9",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_renders_the_operations_offline(base_url: str) -> None:
    dom = _rendered(f"{base_url}/docs")
    assert 'class="opblock' in dom, dom[-2000:]
    assert "/api/v1/referrals/{referral_id}/{action}" in dom
    assert "Throughcare API" in dom


def test_redoc_renders_the_operations_offline(base_url: str) -> None:
    dom = _rendered(f"{base_url}/redoc")
    assert "Submit, accept, decline" in dom, dom[-2000:]
    assert "listParticipants" in dom or "Participants the caller" in dom
