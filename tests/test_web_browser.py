"""The links of a real issue, followed in a real browser (Debian's chromium through
chromedriver, headless) to the web app under uvicorn: "More like this" on a card leads to the
confirm page, whose button records the vote; the footer's Unsubscribe leads to the confirm
page, whose button unsubscribes the reader. What the store holds afterwards is checked."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.models import Selection
from newsletter.render.renderer import renderer_for
from newsletter.status import ReaderStatus
from newsletter.tokens import PREVIOUS_SECRET_ENV, SECRET_ENV
from tests.test_browser import HEADLESS
from tests.webapp import ADA, DAY, SECRET, Site, paper, picked, running_site

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [*HEADLESS, "--window-size=1024,900"]
WAIT = 30.0  # seconds for a page to load


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} is not installed"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    reason = _missing()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(PREVIOUS_SECRET_ENV, raising=False)
    with running_site(tmp_path / "site") as running:
        yield running


def previewed_issue(site: Site, folder: Path) -> Path:
    """Ada's issue as `preview` writes it: rendered by the config's renderer, whose links
    point at the running app."""
    papers = [paper(n) for n in range(3)]
    selected = picked(papers)
    with site.store() as store:
        store.save_day(DAY, "arxiv", papers)
        store.keep_issue(ADA, DAY, selected)
    reader = site.config.readers[0]
    assert reader.key == ADA
    selection = Selection(reader.profile, DAY, tuple(selected))
    issue = renderer_for(site.config).render(selection, reader.email, reader.name)
    path = folder / "ada.html"
    path.write_text(issue.html, encoding="utf-8")
    return path


def test_a_reader_rates_a_paper_and_unsubscribes_from_the_email(
    browser: object, site: Site, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    wait = WebDriverWait(driver, WAIT)
    issue = previewed_issue(site, tmp_path).resolve().as_uri()

    driver.get(issue)
    driver.find_elements(By.LINK_TEXT, "More like this")[0].click()
    wait.until(lambda d: "/f/" in d.current_url and d.find_elements(By.TAG_NAME, "button"))
    assert paper(0).title in driver.page_source
    with site.store() as store:
        assert store.rating(ADA, paper(0).id) == 0  # opening the page changed nothing
    driver.find_element(By.CSS_SELECTOR, 'button[value="more"]').click()
    wait.until(lambda d: "Noted: more like this" in d.page_source)
    with site.store() as store:
        assert store.rating(ADA, paper(0).id) == 1

    driver.get(issue)
    driver.find_element(By.LINK_TEXT, "Unsubscribe").click()
    wait.until(lambda d: "/u/" in d.current_url and d.find_elements(By.TAG_NAME, "button"))
    with site.store() as store:
        assert store.suppression(ADA) is None
    driver.find_element(By.XPATH, "//button[normalize-space()='Unsubscribe']").click()
    wait.until(lambda d: "You are unsubscribed" in d.page_source)
    with site.store() as store:
        found = store.suppression(ADA)
    assert found is not None and found.status is ReaderStatus.UNSUBSCRIBED
    assert found.source == "web" and "unsubscribe page" in found.reason
