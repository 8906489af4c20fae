"""Real SMART clients against a running Ember: the `fhirclient` library completes a standalone
launch and reads the patient; headless Chromium (Debian's, driven by Playwright) goes through
the login, patient picker and consent pages."""

from __future__ import annotations

import os
import re
import shutil
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fhirclient import client as smart_client

from tests.auth.conftest import pkce_pair
from tests.auth.live import PASSWORD, LiveEmber, live_ember  # noqa: F401  (fixture)

CHROMIUM = "/usr/bin/chromium"


def _browse_with_forms(url: str, patient_id: str) -> str:
    """A form-posting browser without JavaScript: the redirect back to the app."""
    with httpx.Client() as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        login_url = str(page.url.join("login"))
        page = browser.post(login_url, data={**_hidden(page.text), "username": "dr.who", "password": PASSWORD})
        page = browser.post(str(page.url.join("patient")), data={**_hidden(page.text), "patient": patient_id})
        scopes = re.findall(r'name="scope" value="([^"]*)"', page.text)
        form = urlencode([*_hidden(page.text).items(), ("decision", "approve"), *(("scope", s) for s in scopes)])
        redirect = browser.post(
            str(page.url.join("consent")), content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert redirect.status_code == 303, redirect.text
        return redirect.headers["location"]


def _hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def test_fhirclient_standalone_launch_reads_the_patient(live_ember: LiveEmber) -> None:  # noqa: F811
    settings = {
        "app_id": live_ember.client_id,
        "api_base": live_ember.base,
        "redirect_uri": live_ember.redirect_uri,
        "scope": "patient/*.rs openid fhirUser",
    }
    smart = smart_client.FHIRClient(settings=settings)
    authorize_url = smart.authorize_url  # discovers the endpoints from the CapabilityStatement
    assert authorize_url.startswith(live_ember.base.removesuffix("/fhir") + "/auth/authorize")
    smart.handle_callback(_browse_with_forms(authorize_url, live_ember.patient_id))
    assert smart.ready and smart.patient_id == live_ember.patient_id
    patient = smart.patient
    assert patient is not None and patient.id == live_ember.patient_id
    assert smart.human_name(patient.name[0])


def test_headless_chromium_goes_through_login_picker_and_consent(live_ember: LiveEmber) -> None:  # noqa: F811
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
        pytest.skip(
            f"CHROMIUM NOT INSTALLED: {CHROMIUM} missing, browser flow NOT TESTED (apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": live_ember.client_id,
        "redirect_uri": live_ember.redirect_uri,
        "scope": "launch/patient patient/*.rs offline_access",
        "state": "browser-1",
        "aud": live_ember.base,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    origin = live_ember.base.removesuffix("/fhir")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=False)  # the pages must work without it
            page.goto(f"{origin}/auth/authorize?{urlencode(params)}")
            page.fill("input[name=username]", "dr.who")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.check(f"input[name=patient][value='{live_ember.patient_id}']")
            page.click("button[type=submit]")
            page.uncheck("input[name=scope][value='offline_access']")
            page.click("button[value=approve]")
            page.wait_for_url(f"{live_ember.redirect_uri}?*")
            landed = page.url
        finally:
            browser.close()
    query = parse_qs(urlsplit(landed).query)
    assert query["state"] == ["browser-1"]
    token = httpx.post(
        f"{origin}/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": live_ember.redirect_uri,
            "client_id": live_ember.client_id,
            "code_verifier": verifier,
        },
    ).json()
    assert token["patient"] == live_ember.patient_id
    assert token["scope"] == "launch/patient patient/*.rs" and "refresh_token" not in token
