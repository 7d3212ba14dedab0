"""Studio's sign-in over real HTTP (no browser): the session cookie's attributes and contents,
CSRF on sign-in, a revoked token or a forged cookie ending the session, the key file's mode,
authentication off acting as LOCAL, and what the server serves besides the pages."""

from __future__ import annotations

import re
import stat

import httpx
import pytest

from rayline.auth.tokens import revoke_token
from rayline.studio import session as sessions

pytestmark = [pytest.mark.server]


def _csrf(html: str) -> str:
    """The session's CSRF token, as every page carries it (forms and the page's head)."""
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', html).group(1)


def _sign_in(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/studio/signin")
    assert form.status_code == 200
    return client.post(
        "/studio/signin",
        data={"token": token, "csrf": _csrf(form.text), "next": "/studio/executions"},
    )


def test_session_cookie_csrf_and_revocation(studio_server, rayline_home):
    with httpx.Client(base_url=studio_server.url) as client:
        # Nobody signed in: pages lead to the sign-in form, fetches get 401.
        home = client.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/studio/pipelines"
        page = client.get("/studio/pipelines")
        assert page.status_code == 303
        assert page.headers["location"] == "/studio/signin?next=%2Fstudio%2Fpipelines"
        assert client.get("/studio/executions/abc/state").status_code == 401

        # Sign-in needs the CSRF token of the form's session.
        client.get("/studio/signin")
        forged = client.post(
            "/studio/signin", data={"token": studio_server.tokens["viewer"], "csrf": "0" * 64}
        )
        assert forged.status_code == 403 and "CSRF" in forged.text

        secret = studio_server.tokens["viewer"]
        signed = _sign_in(client, secret)
        assert signed.status_code == 303 and signed.headers["location"] == "/studio/executions"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/studio" in cookie
        value = client.cookies[sessions.COOKIE]
        assert secret not in value and secret[3:] not in value  # the id only, never the secret
        assert client.get("/studio/executions").status_code == 200
        assert "viewer-user (viewer)" in client.get("/studio/pipelines").text

        # A tampered cookie is no session.
        client.cookies.set(sessions.COOKIE, value[:-2] + "xx", path="/studio")
        assert client.get("/studio/pipelines").status_code == 303
        client.cookies.set(sessions.COOKIE, value, path="/studio")
        assert client.get("/studio/pipelines").status_code == 200

        # Revoking the token ends its sessions at once.
        revoke_token(secret[3:11])
        assert client.get("/studio/pipelines").status_code == 303

    key = rayline_home / sessions.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_auth_off_acts_as_local_and_pages_are_not_api(studio_server, monkeypatch):
    with httpx.Client(base_url=studio_server.url) as client:
        # The pages carry their own security headers and are no part of the REST API.
        schema = client.get("/openapi.json").json()
        assert not [p for p in schema["paths"] if p.startswith("/studio") or p == "/"]
        assert client.get("/studio/static/studio.js").status_code == 200

        monkeypatch.setenv("RAYLINE_SERVER_AUTH", "off")  # read per request
        page = client.get("/studio/pipelines")
        assert page.status_code == 200, page.text
        assert "local (admin)" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        # ... a state change still needs the CSRF token of the session the page gave.
        refused = client.post("/studio/executions/abc/stop", data={"csrf": "bad"})
        assert refused.status_code == 403
        missing = client.post(
            "/studio/executions/abc/stop",
            data={"csrf": _csrf(client.get("/studio/pipelines").text)},
        )
        assert missing.status_code == 404 and "abc" in missing.text


def test_bad_input_is_a_page_never_a_500(studio_server):
    """Unknown ids, odd names and malformed queries get a 4xx page that says what is wrong."""
    with httpx.Client(base_url=studio_server.url) as client:
        _sign_in(client, studio_server.tokens["operator"])
        csrf = _csrf(client.get("/studio/pipelines").text)
        for path, status in [
            ("/studio/pipelines/nope", 404),
            ("/studio/pipelines/nope?version=0", 422),
            ("/studio/pipelines/nope?version=x", 422),
            ("/studio/executions/0123456789abcdef", 404),
            ("/studio/executions/%00%ff", 404),
            ("/studio/executions/abc/steps/..%2F..", 404),
            ("/studio/executions/abc/state", 404),
            ("/studio/executions/abc/events", 404),
            ("/studio/executions?status=Bogus", 400),
            ("/studio/executions?offset=-1", 422),
            ("/studio/signin?next=https://evil.example/", 200),
        ]:
            response = client.get(path)
            assert response.status_code == status, (path, response.text[:300])
        assert (
            'name="next" value="/studio/pipelines"'
            in client.get("/studio/signin?next=//evil.example/").text
        )
        for path, status in [
            ("/studio/pipelines/nope/start", 404),
            ("/studio/executions/abc/stop", 404),
            ("/studio/executions/abc/delete", 404),
        ]:
            response = client.post(path, data={"csrf": csrf, "p.X": "1", "version": "zz"})
            assert response.status_code == status, (path, response.text[:300])
            assert "Traceback" not in response.text
