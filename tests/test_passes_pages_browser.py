"""Pass pages in headless Chromium on a 360-px phone: the out-of-date countdown, the share fallback, the invite form."""

import pytest
from browser_support import LiveServer, chromium, phone_context
from support import csrf_in

from portal.extensions import db
from portal.passes.models import Pass

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def browser_at(app):
    """(base URL, browser) with the app served for one test."""
    app.config["SERVER_NAME"] = None
    with LiveServer(app) as srv, chromium() as browser:
        yield srv.url, browser


def _resident_page(browser, base, world, locale="en-US"):
    """A phone page whose context is signed in as resident r1 (the login form posted by the context's requests)."""
    context = phone_context(browser, locale=locale)
    html = context.request.get(f"{base}/login").text()
    token = csrf_in(html)
    context.request.post(f"{base}/login", form={"csrf_token": token, "login": world.r1.login, "password": world.PASSWORD})
    return context, context.new_page()


def test_offline_pass_page_says_the_code_is_out_of_date_and_counts_down(browser_at, world):
    base, browser = browser_at
    p = world.make_pass()
    page = phone_context(browser).new_page()
    page.clock.install()
    page.goto(f"{base}/p/{p.link_token}")
    assert page.locator("#stale").is_hidden() and "秒后更新通行码" in page.inner_text("#next-code")
    page.route("**/live", lambda route: route.abort())  # no signal
    page.clock.fast_forward(35_000)  # past the step the shown code belongs to
    page.wait_for_timeout(300)  # the failed fetch settles
    assert page.locator("#stale").is_visible()
    assert "此通行码已过期" in page.inner_text("#stale") and "念给保安" in page.inner_text("#stale")
    assert page.inner_text("#retry-in") == "5 秒后重试。"
    assert "stale" in page.get_attribute(".pass-card", "class")
    page.clock.fast_forward(2_000)
    page.wait_for_timeout(100)
    assert page.inner_text("#retry-in") == "3 秒后重试。"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.unroute("**/live")  # back in signal: the next try brings a fresh code and the warning goes
    page.clock.fast_forward(4_000)
    page.wait_for_timeout(500)
    page.clock.fast_forward(1_000)
    assert page.locator("#stale").is_hidden()
    assert "stale" not in page.get_attribute(".pass-card", "class").split()


def test_share_falls_back_to_copying_the_link(browser_at, world):
    base, browser = browser_at
    p = world.make_pass()
    context, page = _resident_page(browser, base, world)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'share', {value: undefined, configurable: true});")
    page.goto(f"{base}/my/passes/{p.id}")
    page.click("#share")
    for _ in range(20):
        if page.inner_text("#share-status"):
            break
        page.wait_for_timeout(50)
    assert "Link copied" in page.inner_text("#share-status")
    assert page.evaluate("navigator.clipboard.readText()").endswith(f"/p/{p.link_token}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_invite_form_shows_what_the_kind_needs(browser_at, world):
    base, browser = browser_at
    _, page = _resident_page(browser, base, world)
    page.goto(f"{base}/my/passes/new")
    company, entries = page.locator("input[name=company]"), page.locator("input[name=max_entries]")
    assert company.is_hidden() and entries.is_visible() and entries.input_value() == "1"
    page.select_option("select[name=kind]", "delivery")
    assert entries.is_hidden() and company.is_hidden()
    page.select_option("select[name=kind]", "contractor")
    assert company.is_visible() and page.locator("input[name=work_area]").is_visible()
    page.fill("input[name=company]", "好家装修")  # typed, then the host changes their mind
    page.select_option("select[name=kind]", "guest")
    assert company.is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.fill("input[name=visitor_name]", "王小明")
    with page.expect_navigation():
        page.click("#invite button[type=submit]")
    db.session.expire_all()
    made = db.session.scalars(db.select(Pass).where(Pass.visitor_name == "王小明")).one()
    assert made.kind == "guest" and made.max_entries == 1 and made.company is None
