"""Headless Debian chromium for the page tests (the ``browser`` fixture is in conftest.py).

Pages are opened offline: every request but ``file://`` is blocked, so a page that needs
the network fails its test.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_offline(browser, path: Path, ready: str | None = "window.sitingReady === true"):
    """Open ``path`` offline and wait for ``ready`` (a JS expression; None: no wait).

    Returns (page, errors): the page's uncaught errors and console errors, blocked
    resources (tiles, offline) excepted.
    """
    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    page = ctx.new_page()
    errors: list[str] = []
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
    )
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))

    def on_console(msg):
        # blocked tiles show up as failed resources: expected offline, not an error of ours
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    page.goto(path.as_uri())
    if ready:
        page.wait_for_function(ready, timeout=10_000)
    return page, errors
