"""The app in a real browser: Debian's chromium driven by Playwright, against the local stack and
simulators behind the development gateway (fortbridge/devserver.py).

Playwright never downloads a browser: it runs ``/usr/bin/chromium`` (``scripts/setup.sh``
installs it with apt) headless. Screenshots go to ``$APP_SCREENSHOTS`` (default
``$TMPDIR/fortbridge-app-screenshots``), one folder per test, never into the repository. Every
page a test visits is checked with axe-core (from the app's npm packages) for accessibility
violations, and any Content-Security-Policy violation or uncaught script error fails the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, async_playwright

from fortbridge.devserver import AppStack, app_stack
from libs.common.messaging import Topology
from tests.support.stack import TEST_SETTINGS

CHROMIUM = Path(os.environ.get("APP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = (
    Path(__file__).resolve().parents[2]
    / "services/ingest/webapp/frontend/node_modules/axe-core/axe.min.js"
)
SCREENSHOTS = Path(
    os.environ.get("APP_SCREENSHOTS") or Path(tempfile.gettempdir()) / "fortbridge-app-screenshots"
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
WAIT_MS = 30_000  # for what the pipeline does (an order through five services and Fortnox)


@dataclass
class Browsing:
    """One test's browser tab on the app, signed in as the stack's shop."""

    app: AppStack
    page: Page
    folder: Path
    problems: list[str] = field(default_factory=list)
    shots: int = 0

    @property
    def stack(self) -> Any:
        return self.app.stack

    async def open(self, path: str = "/") -> None:
        """Go to an app page by its menu (as a merchant would), or by address."""
        await self.page.goto(self.app.app_url("/app" + path))

    async def shot(self, name: str) -> Path:
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def check_accessibility(self, what: str) -> None:
        """axe-core on the page as it is: no violations (WCAG 2.1 A/AA and best practices)."""
        found = await axe_violations(self.page)
        self.problems += [f"{what}: {violation}" for violation in found]


async def axe_violations(page: Page) -> list[str]:
    assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci)"
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays on.
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    results = await page.evaluate(
        """async () => {
            // Polaris' Frame wraps its navigation landmark in a div with the mobile menu's close
            // button beside it; the "region" rule (a best practice) is run without that wrapper.
            const nav = document.getElementById('AppFrameNav');
            const wrapper = nav ? nav.parentElement : null;
            const options = {resultTypes: ['violations']};
            const all = await axe.run(document, {...options, rules: {region: {enabled: false}}});
            const region = await axe.run(
                wrapper ? {exclude: [wrapper]} : document, {...options, runOnly: ['region']});
            return [...all.violations, ...region.violations].map(v =>
                `${v.id} (${v.impact}): ${v.help} at `
                + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    return list(results)


def watch(page: Page, problems: list[str]) -> None:
    """Script errors, CSP violations and any request off this machine (no CDN) are problems."""
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"CSP: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            None
            if urlsplit(request.url).hostname in LOCAL_HOSTS or request.url.startswith("data:")
            else problems.append(f"a request off this machine: {request.url}")
        ),
    )


def screenshot_folder(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::")[-1])[:100]
    folder = SCREENSHOTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def chromium() -> str:
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: run scripts/setup.sh (apt chromium)"
    return str(CHROMIUM)


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


AppFactory = Callable[..., Awaitable[AppStack]]


@pytest.fixture
async def app_factory(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[AppFactory]:
    """The stack behind the gateway (test timings); keywords go to the stack's settings."""
    async with contextlib.AsyncExitStack() as stacks:

        async def open_app(**overrides: Any) -> AppStack:
            return await stacks.enter_async_context(
                app_stack(
                    amqp_url=amqp_url,
                    database_url=database_url,
                    namespace=broker_cleanup.namespace,
                    **{**TEST_SETTINGS, **overrides},
                )
            )

        yield open_app


BrowseFactory = Callable[[AppStack], Awaitable[Browsing]]


@pytest.fixture
async def browse(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[BrowseFactory]:
    """A signed-in tab on an app stack; at the end, no script error, CSP or axe problem."""
    tabs: list[Browsing] = []

    async def open_tab(app: AppStack) -> Browsing:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        tab = Browsing(app, page, screenshot_folder(request))
        watch(page, tab.problems)
        await page.goto(app.app_url(f"/app/?shop={app.stack.shop}"))
        await page.get_by_label("Shop domain").fill(app.stack.shop)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Get started").wait_for()
        tabs.append(tab)
        return tab

    yield open_tab
    for tab in tabs:
        await tab.page.context.close()
    problems = [problem for tab in tabs for problem in tab.problems]
    assert problems == [], "\n".join(problems)
