"""The demo's sign-in page in a real headless Chromium (Playwright's sync API, Debian's browser).

CI installs Chromium (``apt-get install -y chromium``); Playwright's own browser download is
never used, so ``playwright install`` is not needed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from p1guard._cli.demo_app import build_starlette_demo
from p1guard._cli.demo_server import DemoServer, bind, browser_url, demo_web_login
from p1guard.testing import MockPingOne

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture
def mock() -> Iterator[MockPingOne]:
    with MockPingOne() as op:
        yield op


@pytest.fixture
def demo_url(mock: MockPingOne) -> Iterator[str]:
    """The demo app served for real (uvicorn on a free port) with its mock PingOne."""
    sock = bind("127.0.0.1", 0)
    url = browser_url(sock)
    test_user = (str(mock.user["preferred_username"]), mock.user_password)
    app = build_starlette_demo(mock.guard(), demo_web_login(mock, url), test_user=test_user)
    with DemoServer(app, sock):
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (Debian's package)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_sign_in_and_out_of_the_demo(demo_url: str, browser: Browser) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{demo_url}/")
    sign_in = page.get_by_role("link", name="Sign in", exact=True)
    expect(sign_in).to_be_visible()

    sign_in.click()  # -> /auth/login -> mock PingOne -> /auth/callback -> /
    expect(page.get_by_text("Signed in as")).to_contain_text("Ada Lovelace")
    expect(page).to_have_url(f"{demo_url}/")
    expect(page.locator("pre")).to_contain_text('"sub": "user-1"')
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies(demo_url)}
    assert cookies["session"]["httpOnly"] is True
    assert cookies["session"]["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()  # -> /auth/logout -> signoff -> /
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page).to_have_url(f"{demo_url}/")


def test_sign_in_on_the_apps_own_form(demo_url: str, browser: Browser, mock: MockPingOne) -> None:
    """pi.flow: the app renders the form; a wrong password shows it again, then it signs in."""
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{demo_url}/")
    page.get_by_role("link", name="Sign in with the app's own form (pi.flow)").click()
    expect(page).to_have_url(f"{demo_url}/auth/form")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password. Try again.")
    expect(page.get_by_label("Username")).to_have_value("ada")
    expect(page.get_by_label("Password")).to_have_value("")  # never echoed
    assert "not-the-password" not in page.content()

    page.get_by_label("Password").fill(mock.user_password)
    page.get_by_role("button", name="Sign in").click()  # -> 303 -> /
    expect(page).to_have_url(f"{demo_url}/")
    expect(page.get_by_text("Signed in as")).to_contain_text("Ada Lovelace")
    expect(page.locator("pre")).to_contain_text('"sub": "user-1"')
    assert mock.user_password not in page.content()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
