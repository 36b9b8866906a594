"""Tracking only for people who allowed it (LAW 21, ePrivacy art. 5(3)). Consentry tracks
nobody, so it asks nobody: no mail it sends holds an image, a remote resource or a link that
goes anywhere but straight to its page; no page sets a cookie, loads anything from elsewhere
(the bot challenge a form may ask for excepted), or answers a link with a redirect; and the
stage's SES configuration set, which the sending system's mail goes through too, has no open
or click tracking."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import yaml

from chalicelib import catalogue
from scripts.local_stack import TEMPLATE, _CfnLoader
from tests.conftest import BASE_URL

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# A link in our mail: straight to the page its token opens, no query to carry a tracking id.
DIRECT = re.compile(re.escape(BASE_URL) + r"/(confirm|requests)/[A-Za-z0-9_.\-]+")
URL_ATTRIBUTES = frozenset({"src", "href", "action", "srcset", "poster", "background", "formaction", "data"})


class _References(HTMLParser):
    """Every address a page or mail points a reader's client at."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(tag, name, value or "") for name, value in attrs if name in URL_ATTRIBUTES]


def _references(html: str) -> list[tuple[str, str, str]]:
    parser = _References()
    parser.feed(html)
    return parser.found


def _every_mail(visitor) -> list:
    """One mail of each kind the service sends: a form's confirmation, an unproven import's
    one ask, an access link and an erasure link."""
    visitor.signup("vorm@example.com")
    visitor.api_post("/api/imports", {"contacts": [{"email": "lijst@example.com", "purposes": ["offers"]}]})
    visitor.subscribe("rechten@example.com")
    for kind in ("access", "erasure"):
        visitor.post_form("/requests", {"email": "rechten@example.com", "type": kind})
    visitor.run_mail_jobs()
    return visitor.sent_mail()


def test_no_mail_we_send_holds_a_pixel_a_remote_resource_or_a_redirecting_link(visitor):
    """LAW 21, 8: nothing in a mail fetches anything when it is opened, and every link goes
    straight to its page (no click redirect, no tracking parameter)."""
    mails = _every_mail(visitor)
    assert len(mails) == 5  # two confirmations, the import's ask, the access and erasure links
    for mail in mails:
        to = str(mail["To"])
        assert not [
            part for part in mail.walk() if part.get_content_maintype() in ("image", "audio", "video")
        ]
        assert not [name for name in mail if "track" in name.lower()], to
        html = mail.get_body(("html",)).get_content()
        text = mail.get_body(("plain",)).get_content()
        for needle in ("<img", "url(", "<link", "@import", "<script", "<iframe", "<object"):
            assert needle not in html.lower(), (to, needle)
        links = [value for _tag, _name, value in _references(html)]
        assert links and all(DIRECT.fullmatch(link) for link in links), (to, links)
        assert re.findall(r"https?://\S+", text) == links, to  # the text part: the same one link


def test_no_page_sets_a_cookie_loads_from_elsewhere_or_redirects_a_link(visitor):
    """LAW 21: the pages a person reaches from a form or a mail."""
    cat = catalogue.load()
    visitor.subscribe("pagina@example.com")
    visitor.signup("pagina@example.com", purposes=("offers",))
    visitor.post_form("/requests", {"email": "pagina@example.com", "type": "erasure"})
    visitor.run_mail_jobs()
    confirm, request = visitor.confirm_link("pagina@example.com"), visitor.request_link("pagina@example.com")
    manage = visitor.unsubscribe_path("pagina@example.com")
    answers = {
        **{f"form {f}": visitor.get(f"/forms/{f}") for f in cat.forms},
        "framed form": visitor.get("/forms/newsletter?embed=1"),
        "signed up": visitor.post_form(
            "/forms/newsletter", [("email", "nieuw@example.com"), ("purposes", "offers")]
        ),
        "unknown form": visitor.get("/forms/nope"),
        "confirm page": visitor.get(confirm),
        "confirmed": visitor.client.http.post(confirm, headers=FORM),
        "bad link": visitor.get("/confirm/nonsense"),
        "preferences": visitor.get(manage),
        "preferences saved": visitor.post_form(manage, {"profiling": "object"}),
        "one-click": visitor.one_click(manage),
        "requests": visitor.get("/requests"),
        "request sent": visitor.post_form("/requests", {"email": "pagina@example.com", "type": "access"}),
        "erasure page": visitor.get(request),
        "erased": visitor.client.http.post(request, headers=FORM),
    }
    challenge = {catalogue.CHALLENGES[f.challenge][1] for f in cat.forms.values() if f.challenge}
    own = ("#", "../", "/", BASE_URL + "/")
    for what, answer in answers.items():
        assert not 300 <= answer.status_code < 400, (what, answer.status_code)  # never a redirect
        assert "Set-Cookie" not in answer.headers, what
        csp = answer.headers["Content-Security-Policy"]
        assert "img-src 'self'" in csp or "img-src" not in csp, (what, csp)  # no remote image may load
        for tag, name, value in _references(answer.body.decode()):
            relative = not urlsplit(value).scheme and not value.startswith("//")
            allowed = (
                relative
                or value.startswith(own)
                or value in (cat.controller.privacy_url, f"mailto:{cat.controller.email}")
                or (tag, name, value) in {("script", "src", s) for s in challenge}
            )
            assert allowed, (what, tag, name, value)


def test_the_links_the_sending_system_puts_in_marketing_mail_go_straight_to_us(visitor):
    """LAW 21, 16: the unsubscribe link of every audience row and of /api/links is the page
    itself, never a redirector that could count the click."""
    visitor.subscribe("direct@example.com")
    urls = [visitor.links("direct@example.com")["unsubscribe_url"]]
    urls += [visitor.links("direct@example.com", p)["unsubscribe_url"] for p in ("newsletter", "offers")]
    urls += [row["unsubscribe_url"] for p in ("newsletter", "offers") for row in visitor.audience(p)]
    for url in urls:
        assert re.fullmatch(re.escape(BASE_URL) + r"/unsubscribe/[A-Za-z0-9_.\-]+", url), url
        assert visitor.get(url[len(BASE_URL) :]).status_code == 200


def test_the_stages_ses_configuration_set_tracks_no_opens_or_clicks():
    """LAW 21: SES would add an open pixel and rewrite every link of every mail sent through
    the configuration set, the sending system's marketing mail included, for everyone alike."""
    resources = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)["Resources"]  # noqa: S506 (a SafeLoader)
    sets = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SES::ConfigurationSet"]
    assert sets and all("TrackingOptions" not in s for s in sets)
    destinations = [
        r["Properties"]["EventDestination"]
        for r in resources.values()
        if r["Type"] == "AWS::SES::ConfigurationSetEventDestination"
    ]
    assert destinations
    for destination in destinations:
        assert not {"open", "click"} & {t.lower() for t in destination["MatchingEventTypes"]}
