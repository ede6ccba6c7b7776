"""The readers' web app under real uvicorn on 127.0.0.1, driven over HTTP: one-click
unsubscribe (RFC 8058) and its safety (nothing changes on GET, only our tokens count, each for
its purpose, reader, paper and key generation), subscribing again, "more / less like this",
the issue on the web, and what every response carries (security headers, rate limit, limits
on methods and bodies, one log line without an address or a whole token)."""

from __future__ import annotations

import logging
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from newsletter.errors import ConfigError, NewsletterError
from newsletter.links import legacy_token
from newsletter.status import ReaderStatus
from newsletter.tokens import PREVIOUS_SECRET_ENV, SECRET_ENV, Purpose, Signer
from newsletter.web.forms import form_fields
from newsletter.web.limits import RateLimiter
from tests.conftest import REPO
from tests.webapp import (
    ADA,
    DAY,
    GRACE,
    ONE_CLICK,
    SECRET,
    Site,
    assert_secured,
    await_log_lines,
    paper,
    picked,
    running_site,
    status_of,
    unsubscribe_url,
)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(PREVIOUS_SECRET_ENV, raising=False)
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET", raising=False)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path) as running:
        with running.store() as store:
            store.save_day(DAY, "arxiv", [paper(n) for n in range(3)])
        yield running


# --- unsubscribe ------------------------------------------------------------------------------


def test_the_one_click_post_unsubscribes_at_once_and_says_so(site: Site) -> None:
    response = site.client.post(unsubscribe_url(site), data=ONE_CLICK)
    assert response.status_code == 200
    assert_secured(response)
    assert "You are unsubscribed" in response.text
    with site.store() as store:
        found = store.suppression(ADA)
    assert found is not None and found.status is ReaderStatus.UNSUBSCRIBED
    assert found.source == "web" and "@" not in found.reason and DAY.isoformat() in found.reason
    assert status_of(site, GRACE) is ReaderStatus.ACTIVE
    # the page offers to undo it: a POST to the re-subscribe link of that reader and day
    again = site.links.resubscribe(ADA, DAY)
    assert f'<form method="post" action="{again}">' in response.text
    # idempotent
    assert site.client.post(unsubscribe_url(site), data=ONE_CLICK).status_code == 200
    assert status_of(site) is ReaderStatus.UNSUBSCRIBED


def test_a_multipart_one_click_post_unsubscribes_too(site: Site) -> None:
    boundary = "----digest" + secrets.token_hex(8)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = site.client.post(unsubscribe_url(site), content=body, headers=headers)
    assert response.status_code == 200
    assert status_of(site) is ReaderStatus.UNSUBSCRIBED


def test_get_and_head_change_nothing_and_offer_one_button(site: Site) -> None:
    url = unsubscribe_url(site)
    response = site.client.get(url)
    assert response.status_code == 200
    assert_secured(response)
    assert response.text.count("<form") == 1
    assert f'<form method="post" action="{url}">' in response.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in response.text
    assert site.client.head(url).status_code == 200
    assert status_of(site) is ReaderStatus.ACTIVE


def test_a_post_without_the_one_click_field_changes_nothing(site: Site) -> None:
    response = site.client.post(unsubscribe_url(site), data={"List-Unsubscribe": "no"})
    assert response.status_code == 400
    assert status_of(site) is ReaderStatus.ACTIVE


def test_the_unsubscribe_page_of_an_unsubscribed_reader_says_so_and_offers_to_come_back(
    site: Site,
) -> None:
    site.client.post(unsubscribe_url(site), data=ONE_CLICK)
    response = site.client.get(unsubscribe_url(site))
    assert "already unsubscribed" in response.text
    assert f'action="{site.links.resubscribe(ADA, DAY)}"' in response.text


def _altered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


def bad_unsubscribe_links(site: Site) -> dict[str, str]:
    good = unsubscribe_url(site)
    base, token = good.rsplit("/", 1)
    other = Signer("another-secret-of-enough-length").token(ADA, Purpose.UNSUBSCRIBE, DAY)
    feedback = site.links.feedback(ADA, DAY, paper(0).id, "more")
    assert feedback is not None
    feedback_token = feedback.split("/f/", 1)[1].split("?", 1)[0]
    return {
        "forged": f"{base}/{secrets.token_urlsafe(31)[:42]}",
        "tampered": f"{base}/{_altered(token)}",
        "truncated": f"{base}/{token[:-1]}",
        "another secret": f"{base}/{other}",
        "another purpose": f"{base}/{feedback_token}",
        "empty": f"{base}/",
    }


@pytest.mark.parametrize(
    "kind", ["forged", "tampered", "truncated", "another secret", "another purpose", "empty"]
)
def test_a_bad_link_is_a_friendly_404_and_changes_nothing(site: Site, kind: str) -> None:
    url = bad_unsubscribe_links(site)[kind]
    for response in (site.client.get(url), site.client.post(url, data=ONE_CLICK)):
        assert response.status_code == 404
        assert_secured(response)
        assert "This link does not work" in response.text
        assert 'href="mailto:digest@example.org?subject=unsubscribe"' in response.text
        assert "Traceback" not in response.text
    assert status_of(site) is ReaderStatus.ACTIVE


def test_a_feedback_link_for_one_paper_does_not_rate_another(site: Site) -> None:
    url = site.links.feedback(ADA, DAY, paper(0).id, "more")
    assert url is not None
    other = url.replace(paper(0).id, paper(1).id)
    assert site.client.get(other).status_code == 404
    base = url.split("?", 1)[0]
    response = site.client.post(base, data={"paper": paper(1).id, "vote": "more"})
    assert response.status_code == 404
    with site.store() as store:
        assert store.rating(ADA, paper(1).id) == 0 and store.rating(ADA, paper(0).id) == 0


def test_links_of_a_retired_secret_work_for_the_grace_period_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = "the-old-secret-of-enough-length"
    monkeypatch.setenv(PREVIOUS_SECRET_ENV, old)
    with running_site(tmp_path, links_signer=Signer(old)) as site:
        url = unsubscribe_url(site)
        site.today[0] = DAY + timedelta(days=61)
        assert site.client.post(url, data=ONE_CLICK).status_code == 404
        assert status_of(site) is ReaderStatus.ACTIVE
        site.today[0] = DAY + timedelta(days=10)
        assert site.client.post(url, data=ONE_CLICK).status_code == 200
        assert status_of(site) is ReaderStatus.UNSUBSCRIBED


def test_the_older_unsubscribe_url_links_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = "the-old-secret-of-enough-length"
    monkeypatch.setenv(PREVIOUS_SECRET_ENV, old)
    with running_site(tmp_path) as site:
        legacy = f"{site.url}/unsubscribe?t={legacy_token(ADA, SECRET)}"
        page = site.client.get(legacy)
        assert page.status_code == 200 and status_of(site) is ReaderStatus.ACTIVE
        assert "<form" in page.text
        assert site.client.post(legacy, data=ONE_CLICK).status_code == 200
        assert status_of(site) is ReaderStatus.UNSUBSCRIBED
        # made with the previous secret, for another reader
        previous = f"{site.url}/unsubscribe?t={legacy_token(GRACE, old)}"
        assert site.client.post(previous, data=ONE_CLICK).status_code == 200
        assert status_of(site, GRACE) is ReaderStatus.UNSUBSCRIBED
        forged = f"{site.url}/unsubscribe?t={secrets.token_hex(12)}"
        assert site.client.post(forged, data=ONE_CLICK).status_code == 404
        assert site.client.post(f"{site.url}/unsubscribe", data=ONE_CLICK).status_code == 404


def test_a_reader_subscribes_again_with_a_post_only(site: Site) -> None:
    site.client.post(unsubscribe_url(site), data=ONE_CLICK)
    url = site.links.resubscribe(ADA, DAY)
    assert url is not None
    page = site.client.get(url)
    assert page.status_code == 200 and f'<form method="post" action="{url}">' in page.text
    assert status_of(site) is ReaderStatus.UNSUBSCRIBED
    done = site.client.post(url)
    assert done.status_code == 200 and "Welcome back" in done.text
    assert status_of(site) is ReaderStatus.ACTIVE
    assert site.client.post(url).status_code == 200  # idempotent
    assert "You are subscribed" in site.client.get(url).text


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_asks_first_then_records_idempotently_and_can_be_undone(site: Site) -> None:
    hostile = paper(1, "<script>alert(1)</script> & <b>bold</b> claims")
    with site.store() as store:
        store.save_papers([hostile])
    paper_id = hostile.id
    url = site.links.feedback(ADA, DAY, paper_id, "less")
    assert url is not None
    page = site.client.get(url)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "<script" not in page.text and "<b>" not in page.text
    assert page.text.index('value="less"') < page.text.index('value="more"')  # its vote first
    assert 'value="undo"' not in page.text
    with site.store() as store:
        assert store.rating(ADA, paper_id) == 0

    def vote(choice: str) -> httpx.Response:
        return site.client.post(url, data={"paper": paper_id, "vote": choice})

    for choice, expected in [("less", -1), ("less", -1), ("more", 1), ("undo", 0), ("undo", 0)]:
        response = vote(choice)
        assert response.status_code == 200, choice
        with site.store() as store:
            assert store.rating(ADA, paper_id) == expected, choice
        assert ('value="undo"' in response.text) == (expected != 0)
    assert "Noted: more like this" in vote("more").text
    with site.store() as store:
        assert store.ratings([ADA])[ADA][0].day == DAY
    assert vote("sideways").status_code == 400


def test_feedback_on_a_paper_not_stored_is_a_404(site: Site) -> None:
    url = site.links.feedback(ADA, DAY, "2611.99999", "more")
    assert url is not None
    assert site.client.get(url).status_code == 404
    base = url.split("?", 1)[0]
    assert site.client.post(base, data={"paper": "2611.99999", "vote": "more"}).status_code == 404


# --- the issue on the web ---------------------------------------------------------------------


def test_the_issue_page_shows_every_kept_pick_and_only_this_readers(site: Site) -> None:
    mine = [paper(n) for n in range(59)] + [paper(59, "<script>alert(1)</script> last")]
    theirs = [paper(900, "Diffusion model for the other reader")]
    with site.store() as store:
        store.save_day(DAY, "arxiv", mine + theirs)
        store.keep_issue(ADA, DAY, picked(mine))
        store.keep_issue(GRACE, DAY, picked(theirs, 'keyword "diffusion model"'))
    url = site.links.issue(ADA, DAY)
    assert url is not None
    response = site.client.get(url)
    assert response.status_code == 200
    assert_secured(response)
    text = response.text
    assert all(p.title in text for p in mine[:59])
    assert "&lt;script&gt;alert(1)&lt;/script&gt; last" in text
    assert text.count('<article class="card">') == 60
    assert "Diffusion model" not in text and GRACE not in text and ADA not in text
    assert text.index(mine[0].title) < text.index(mine[58].title)  # best first, as kept
    for n in (0, 59):
        assert (
            f'href="{site.links.feedback(ADA, DAY, mine[n].id, "more")}"'.replace("&", "&amp;")
            in text
        )
    assert 'Why: </strong>keyword "mixture of experts"' in text.replace("&#34;", '"')
    assert f'href="{site.links.unsubscribe(ADA, DAY)}"' in text
    assert "<script" not in text and "http://" not in text.replace(site.url, "")
    other = site.links.issue(GRACE, DAY)
    assert other is not None
    assert mine[0].title not in site.client.get(other).text


def test_more_than_the_email_shows_is_on_the_web(site: Site) -> None:
    from newsletter.models import Profile, Selection
    from newsletter.render.renderer import IssueRenderer
    from newsletter.render.views import Newsletter

    mine = [paper(n, f"Mixture of experts {n} " + "long title " * 20) for n in range(80)]
    with site.store() as store:
        store.save_day(DAY, "arxiv", mine)
        store.keep_issue(ADA, DAY, picked(mine))
    renderer = IssueRenderer(
        Newsletter("Web Digest", "digest@example.org", site.links), budget=30_000
    )
    email = renderer.render(Selection(Profile(ADA), DAY, tuple(picked(mine))), ADA, "Ada")
    assert email.layout.full < len(mine)
    url = site.links.issue(ADA, DAY)
    assert url is not None
    text = site.client.get(url).text
    assert text.count('<article class="card">') == len(mine)


def test_an_issue_never_sent_is_selected_now_for_that_reader(site: Site) -> None:
    url = site.links.issue(ADA, DAY)
    assert url is not None
    response = site.client.get(url)
    assert response.status_code == 200
    assert "Picked now" in response.text
    assert all(paper(n).title in response.text for n in range(3))
    with site.store() as store:
        assert store.kept_issue(ADA, DAY) is None  # looking keeps nothing


def test_an_unsubscribed_reader_can_still_see_their_issue_and_rate(site: Site) -> None:
    site.client.post(unsubscribe_url(site), data=ONE_CLICK)
    url = site.links.issue(ADA, DAY)
    assert url is not None
    response = site.client.get(url)
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert f'href="{site.links.resubscribe(ADA, DAY)}"' in response.text
    rate = site.links.feedback(ADA, DAY, paper(0).id, "more")
    assert rate is not None
    assert site.client.post(rate, data={"paper": paper(0).id, "vote": "more"}).status_code == 200
    with site.store() as store:
        assert store.rating(ADA, paper(0).id) == 1


# --- every response ---------------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with running_site(tmp_path, rate_limit=3) as site:
        url = unsubscribe_url(site)
        assert [site.client.get(url).status_code for _ in range(3)] == [200] * 3
        limited = site.client.get(url)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert_secured(limited)
        assert "Too many requests" in limited.text
        # the token is limited from any address...
        elsewhere = {"X-Forwarded-For": "203.0.113.9"}
        assert site.client.get(url, headers=elsewhere).status_code == 429
        # ...and an address for any token
        other = unsubscribe_url(site, GRACE)
        assert site.client.get(other).status_code == 429
        assert site.client.get(other, headers=elsewhere).status_code == 200
        assert site.client.get(f"{site.url}/healthz").status_code == 200  # never limited


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    with running_site(tmp_path, rate_limit=1, proxies="10.0.0.1") as site:
        first = site.client.get(f"{site.url}/a", headers={"X-Forwarded-For": "203.0.113.1"})
        assert first.status_code == 404
        second = site.client.get(f"{site.url}/b", headers={"X-Forwarded-For": "203.0.113.2"})
        assert second.status_code == 429  # both came from 127.0.0.1, which is no proxy here


def test_the_limiter_refills_and_forgets_the_oldest_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(2, max_keys=3, clock=lambda: now[0])
    ip, token = ("client", "a"), ("token", "t")
    assert limiter.take([ip, token]) == limiter.take([ip]) == 0
    assert limiter.take([ip]) == pytest.approx(30.0)  # 2 a minute: one more in 30 s
    assert limiter.take([("client", "b"), token]) == 0  # the token had one left
    assert limiter.take([("client", "c"), token]) == pytest.approx(30.0)
    now[0] = 30.0
    assert limiter.take([ip]) == 0
    for n in range(10):
        limiter.take([("client", f"many{n}")])
    assert len(limiter) == 3


def test_form_bodies_are_read_as_browsers_and_mail_providers_send_them() -> None:
    assert form_fields(b"List-Unsubscribe=One-Click", None) == ONE_CLICK
    assert form_fields(b"a=1&a=2&b=", "application/x-www-form-urlencoded") == {"a": "1", "b": ""}
    assert form_fields(b"List-Unsubscribe=One-Click", "application/json") == {}
    assert form_fields(b"\xff=\xfe", "application/x-www-form-urlencoded") == {}
    multipart = (
        b'--B\r\nContent-Disposition: form-data; name="vote"\r\n\r\nmore\r\n'
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\nfile\r\n'
        b"--B--\r\n"
    )
    assert form_fields(multipart, "multipart/form-data; boundary=B") == {"vote": "more"}
    assert form_fields(b"not multipart", "multipart/form-data; boundary=B") == {}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_head_and_post_are_taken(site: Site, method: str) -> None:
    response = site.client.request(method, unsubscribe_url(site), data=ONE_CLICK)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert_secured(response)
    assert status_of(site) is ReaderStatus.ACTIVE
    issue = site.links.issue(ADA, DAY)
    assert issue is not None
    assert site.client.post(issue).status_code == 405


def test_a_large_body_is_refused(site: Site) -> None:
    padding = {"List-Unsubscribe": "One-Click", "pad": "x" * 5000}
    response = site.client.post(unsubscribe_url(site), data=padding)
    assert response.status_code == 413
    assert_secured(response)

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as it arrives
        yield b"List-Unsubscribe=One-Click&pad="
        yield b"x" * 5000

    response = site.client.post(unsubscribe_url(site), content=chunks())
    assert response.status_code == 413
    assert status_of(site) is ReaderStatus.ACTIVE


def test_health_unknown_paths_and_no_redirects(site: Site) -> None:
    health = site.client.get(f"{site.url}/healthz")
    assert health.status_code == 200 and health.text == "ok"
    assert_secured(health)
    for path in ("/", "/nothing", "/u", f"{unsubscribe_url(site).removeprefix(site.url)}/"):
        response = site.client.get(site.url + path)
        assert response.status_code == 404, path
        assert_secured(response)
        assert "This link does not work" in response.text
    assert "strict-transport-security" not in health.headers


def test_under_a_path_and_https_every_route_moves_along(tmp_path: Path) -> None:
    with running_site(tmp_path, prefix="/digest") as site:
        assert site.client.post(unsubscribe_url(site), data=ONE_CLICK).status_code == 200
        assert status_of(site) is ReaderStatus.UNSUBSCRIBED
        root = site.url.removesuffix("/digest")
        token = unsubscribe_url(site).rsplit("/", 1)[1]
        assert site.client.get(f"{root}/u/{token}").status_code == 404
        assert site.client.get(f"{site.url}/healthz").status_code == 200
    with running_site(tmp_path, public="https://digest.example.org") as site:
        response = site.client.get(f"{site.url}/healthz")
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_a_failure_is_a_friendly_500_and_one_log_line(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="newsletter.web")
    site.config.state_path.unlink(missing_ok=True)
    site.config.state_path.mkdir()  # the database cannot be opened
    response = site.client.post(unsubscribe_url(site), data=ONE_CLICK)
    assert response.status_code == 500
    assert_secured(response)
    assert "Something went wrong" in response.text and "Traceback" not in response.text
    lines = await_log_lines(caplog, 1)
    assert lines[0].levelno == logging.ERROR and "StoreError" in lines[0].getMessage()


def test_one_log_line_per_request_without_addresses_or_whole_tokens(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newsletter")
    url = unsubscribe_url(site)
    token = url.rsplit("/", 1)[1]
    rate = site.links.feedback(ADA, DAY, paper(0).id, "more")
    issue = site.links.issue(ADA, DAY)
    legacy = f"{site.url}/unsubscribe?t={legacy_token(ADA, SECRET)}"
    assert rate is not None and issue is not None
    site.client.get(url)
    site.client.post(url, data=ONE_CLICK)
    site.client.post(rate, data={"paper": paper(0).id, "vote": "more"})
    site.client.get(issue)
    site.client.get(bad_unsubscribe_links(site)["tampered"])
    site.client.get(legacy)
    lines = await_log_lines(caplog, 6)
    assert len(lines) == 6
    messages = [record.getMessage() for record in lines]
    assert f"POST /u/{token[:6]}… 200" in messages[1] and "(unsubscribed)" in messages[1]
    assert "404" in messages[4] and "refused" in messages[4]
    assert "?…" in messages[5]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    secrets_seen = [token, legacy_token(ADA, SECRET), issue.rsplit("/", 1)[1]]
    assert not [s for s in secrets_seen if s in everything]
    assert "@" not in everything


# --- starting and refusing to start -----------------------------------------------------------


def test_the_app_refuses_to_start_without_web_url_or_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.config import load_config
    from newsletter.web.app import create_app
    from tests.webapp import write_config

    path = write_config(tmp_path, "http://127.0.0.1:8080")
    path.write_text(path.read_text().replace("  web_url: http://127.0.0.1:8080\n", ""))
    with pytest.raises(ConfigError, match=r"subscribers\.yaml:1: newsletter\.web_url: is not"):
        create_app(load_config(path))
    write_config(tmp_path, "http://127.0.0.1:8080")
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(ConfigError, match=r"subscribers\.yaml:4: newsletter\.web_url: .*NEWS"):
        create_app(load_config(path))


def test_without_the_extra_the_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsletter.web import EXTRA_MISSING, require_extra

    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(NewsletterError) as caught:
        require_extra()
    assert str(caught.value) == EXTRA_MISSING
    assert EXTRA_MISSING == 'the web app needs its extra: pip install "paper-digest-mail[web]"'


def test_the_command_line_imports_no_web_server() -> None:
    code = (
        "import sys, newsletter.cli, newsletter.cli_serve, newsletter.web\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_beside_the_scheduler_it_starts_on_listen_and_stops(tmp_path: Path) -> None:
    from newsletter.config import load_config
    from newsletter.web import start_in_thread
    from newsletter.web.server import listening_socket
    from tests.webapp import write_config

    config = load_config(write_config(tmp_path, "http://127.0.0.1:8080"))
    running = start_in_thread(config, "127.0.0.1:0")
    try:
        assert httpx.get(f"{running.url}/healthz", timeout=10).text == "ok"
        with pytest.raises(NewsletterError, match=r"cannot listen on 127\.0\.0\.1"):
            start_in_thread(config, f"127.0.0.1:{running.port}")
    finally:
        running.stop()
    assert not running.thread.is_alive()
    try:
        listening_socket("::1", 0).close()
    except NewsletterError:
        return  # no IPv6 here
    running = start_in_thread(config, "[::1]:0")
    try:
        assert httpx.get(f"{running.url}/healthz", timeout=10).status_code == 200
    finally:
        running.stop()


def test_newsletter_serve_answers_until_sigterm(tmp_path: Path) -> None:
    from tests.webapp import wait_until_answers, write_config

    path = write_config(tmp_path, "http://127.0.0.1:8080")
    command = [sys.executable, "-m", "newsletter", "serve", "-c", str(path), "--port", "0"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert process.stderr is not None
        port = None
        for line in process.stderr:  # the log says where it listens
            if "serving http://127.0.0.1:8080 on 127.0.0.1:" in line:
                port = int(line.rsplit(":", 1)[1])
                break
        assert port, "newsletter serve did not say where it listens"
        with httpx.Client(timeout=10) as client:
            wait_until_answers(client, f"http://127.0.0.1:{port}/healthz")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_newsletter_serve_refuses_to_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from newsletter.cli import cli
    from tests.webapp import write_config

    path = write_config(tmp_path, "http://127.0.0.1:8080")
    monkeypatch.delenv(SECRET_ENV)
    result = CliRunner().invoke(cli, ["serve", "-c", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: newsletter.web_url: links to it are signed" in result.output
    path.write_text(path.read_text().replace("  web_url: http://127.0.0.1:8080\n", ""))
    result = CliRunner().invoke(cli, ["serve", "-c", str(path)])
    assert result.exit_code == 1
    assert f"Error: {path}:1: newsletter.web_url: is not set" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_newsletter_serve_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    from newsletter.web import EXTRA_MISSING
    from tests.webapp import write_config

    path = write_config(tmp_path, "http://127.0.0.1:8080")
    code = (
        "import sys\n"
        "sys.modules['starlette'] = sys.modules['uvicorn'] = None\n"
        "from newsletter.cli import main\n"
        f"sys.argv = ['newsletter', 'serve', '-c', {str(path)!r}]\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {EXTRA_MISSING}"
