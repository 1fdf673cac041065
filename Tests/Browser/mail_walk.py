"""The mailed-link part of the browser test: reads mail from the sandbox's catcher (GET /sandbox/mail). Once the
catcher is in Services/Sandbox, every step here must pass; until then dashboard_test.py says loudly that the walk did not
run (and connecting Instagram, which needs a verified address, fails with a message naming the catcher)."""

import json
import os
import re
import time

from selenium.webdriver.common.by import By

DASHBOARD = os.environ["DASHBOARD_URL"]
SANDBOX = os.environ["SANDBOX_URL"]


def get(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=15) as response:
        return json.loads(response.read())


def mail_link(address, page, seen=()):
    """The newest PUBLIC_URL/<page>?token=… link the sandbox's catcher received for `address` (any message shape: each
    message's JSON must name the address and hold the link), not one of `seen`; None while there is none."""
    data = get(SANDBOX + "/sandbox/mail")
    messages = data.get("messages", data.get("mail", [])) if isinstance(data, dict) else data
    pattern = re.compile(re.escape(DASHBOARD) + "/" + page + r"\?token=[A-Za-z0-9_\-]+")
    links = []
    for message in messages:
        text = json.dumps(message).replace("\\/", "/")
        if address in text:
            links += [link for link in pattern.findall(text) if link not in seen]
    return links[-1] if links else None


def verify_by_mail(steps, email):
    """Opens the verification link mailed to `email` in the browser; the token leaves the address bar at once."""
    b = steps.browser
    steps.until(f"a verification mail for {email} in the sandbox", lambda: mail_link(email, "verify-email"))
    b.get(mail_link(email, "verify-email"))
    steps.until("the link page says the address is verified", lambda: "is verified" in steps.text_of("#link-result"))
    assert "token=" not in b.current_url, f"the token stayed in the address bar: {b.current_url}"


def walk(steps):
    """Sign-up → verification mail → sign in → forgot password → reset mail → the new password works, the old one
    does not. Needs the sandbox's mail catcher and auth's mail worker sending to it (see scripts/browser-test.sh)."""
    b = steps.browser
    email = f"mailwalk{int(time.time())}@example.com"
    old, new = "the first mail walk passphrase", "the second mail walk passphrase"
    steps.step = "mail walk: sign up"
    b.delete_all_cookies()
    b.get(DASHBOARD + "/")
    steps.type("#signup-email", email)
    steps.type("#signup-password", old)
    steps.el("#signup-form button[type=submit]").click()
    steps.until("mail walk: signed in after sign-up", lambda: b.find_element(By.CSS_SELECTOR, "#app").is_displayed())
    steps.el("#logout-button").click()
    steps.el("#auth")
    steps.verify_by_mail(email)
    steps.el("#link-continue").click()
    steps.type("#login-email", email)
    steps.type("#login-password", old)
    steps.el("#login-form button[type=submit]").click()
    steps.until("mail walk: signed in, verified", lambda: b.find_element(By.CSS_SELECTOR, "#app").is_displayed()
               and not b.find_element(By.CSS_SELECTOR, "#verify-banner").is_displayed())
    steps.el("#logout-button").click()

    steps.step = "mail walk: forgot password"
    steps.el("#forgot-link").click()
    steps.type("#forgot-email", email)
    steps.el("#forgot-form button[type=submit]").click()
    steps.until("mail walk: the form says a link was sent if the account exists", lambda: "If an account exists" in steps.text_of("#forgot-sent"))
    steps.until("mail walk: a reset mail in the sandbox", lambda: mail_link(email, "reset-password"))
    b.get(mail_link(email, "reset-password"))
    assert "token=" not in b.current_url, f"the token stayed in the address bar: {b.current_url}"
    steps.type("#reset-password", new)
    steps.type("#reset-password-again", new)
    steps.el("#reset-form button[type=submit]").click()
    steps.until("mail walk: the password was changed", lambda: "password was changed" in steps.text_of("#link-result"))
    steps.snap("password-reset")

    steps.step = "mail walk: the old password no longer works"
    b.get(DASHBOARD + "/")
    steps.type("#login-email", email)
    steps.type("#login-password", old)
    steps.el("#login-form button[type=submit]").click()
    # Not about one field: shown above the form's button, where the eye is.
    steps.until("mail walk: the old password is refused", lambda: "incorrect" in steps.text_of("#login-form .form-error"))
    steps.type("#login-password", new)
    steps.el("#login-form button[type=submit]").click()
    steps.until("mail walk: the new password signs in", lambda: b.find_element(By.CSS_SELECTOR, "#app").is_displayed())


