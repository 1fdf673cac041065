"""The dashboard in headless Chromium: sign up, connect the sandbox's Instagram account through the real OAuth round
trip, add a rule, let a simulated customer write, and see the reply counted in the statistics and listed in the
activity log. Run by scripts/browser-test.sh (make test), which starts the services. Screenshots on failure."""

import json
import os
import sys
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

import mail_walk
import rules_walk  # the tester, the list with switches and counts, the form panel, never-fire warnings
import menu_walk  # a two-level menu built in the form, walked in "Try the bot" until the hand-off

DASHBOARD = os.environ["DASHBOARD_URL"]
SANDBOX = os.environ["SANDBOX_URL"]
INSTAGRAM_ID = os.environ["INSTAGRAM_ID"]
ARTIFACTS = os.environ.get("ARTIFACTS", ".")
WAIT = 30  # seconds; generous for a loaded 2-core machine


def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                 "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read() or b"{}")


def get(url):
    with urllib.request.urlopen(url, timeout=15) as response:
        return json.loads(response.read())


class Steps:
    def __init__(self, browser):
        self.browser = browser
        # A page that navigates while a condition reads it (connect posts, then opens Instagram's page) leaves stale
        # elements behind: read again rather than fail.
        self.wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))
        self.step = "start"

    def snap(self, name):
        self.browser.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))

    def el(self, css):
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def type(self, css, text):
        field = self.el(css)
        field.clear()
        field.send_keys(text)

    def text_of(self, css):
        return self.browser.find_element(By.CSS_SELECTOR, css).text.strip()

    def until(self, what, condition):
        self.step = what
        self.wait.until(lambda _: condition())

    def page(self, name):
        self.step = f"open the {name} page"
        link = self.el(f'.nav a[href="#{name}"]')
        # On a phone the menu is one row that scrolls sideways: bring the link into view as a thumb would.
        self.browser.execute_script("arguments[0].scrollIntoView({block: 'nearest', inline: 'center'})", link)
        link.click()
        self.el(f"#page-{name}")

    def run(self):
        b = self.browser
        email = f"owner{int(time.time())}@example.com"
        password = "a long dashboard passphrase"

        self.step = "sign up"
        b.get(DASHBOARD + "/")
        self.el("#auth")
        minimum = get(DASHBOARD + "/api/config")["password_min_length"]
        self.until("the password hint gives the server's minimum", lambda: f"At least {minimum} characters." in self.text_of("#signup-password-hint"))
        self.step = "the sign-up form links to the privacy policy"
        assert self.el("#signup-policy-link").get_attribute("href") == DASHBOARD + "/privacy"
        assert self.el("#footer-privacy").get_attribute("href") == DASHBOARD + "/privacy"
        self.type("#signup-email", email)
        # Five thumbs-up with a skin tone: 10 code points, 20 UTF-16 units, but 5 characters as the server counts them.
        # (Set by script: ChromeDriver cannot type characters outside the BMP.)
        b.execute_script("document.querySelector('#signup-password').value = arguments[0]", "\U0001F44D\U0001F3FD" * 5)
        self.el("#signup-form button[type=submit], #signup-form input[type=submit]").click()
        self.until("a password too short as the server counts it is refused next to the field, which has the focus",
                   lambda: f"needs at least {minimum} characters" in self.text_of("#signup-password-error"))
        self.field_error_is_accessible("signup-password")
        assert not b.find_element(By.CSS_SELECTOR, "#app").is_displayed()
        # The strength meter uses the server's list of 30,000 common passwords: "Manchester1!" is one of them, dressed up.
        self.type("#signup-password", "Manchester1!")
        self.until("the meter calls a dressed-up common password too common",
                   lambda: "too common" in self.text_of("#signup-password-strength") and self.el("#signup-password-meter").get_attribute("value") == "0")
        self.type("#signup-password", password)
        self.until("the meter rates the passphrase", lambda: self.text_of("#signup-password-strength") in ("Strength: good", "Strength: strong", "Strength: fair"))
        self.el("#signup-form button[type=submit], #signup-form input[type=submit]").click()
        self.until("signed in after sign-up", lambda: b.find_element(By.CSS_SELECTOR, "#app").is_displayed())
        self.until("the account's email shown", lambda: email in self.text_of("#account-email"))

        self.until("the verify banner shown", lambda: b.find_element(By.CSS_SELECTOR, "#verify-banner").is_displayed())
        self.verify_by_mail(email)
        b.get(DASHBOARD + "/")
        self.until("signed in again after verifying", lambda: b.find_element(By.CSS_SELECTOR, "#app").is_displayed())
        self.until("no verify banner once verified", lambda: not b.find_element(By.CSS_SELECTOR, "#verify-banner").is_displayed())

        self.page("connection")
        self.until("not connected yet", lambda: "Not connected" in self.text_of("#connection-status"))
        self.until("the health strip says nobody is answering",
                   lambda: "Instagram is not connected" in self.text_of("#health-strip") and "nobody is answering" in self.text_of("#health-strip"))
        self.until("the onboarding checklist starts at 0 of 5", lambda: "0 of 5 done" in self.text_of("#onboarding"))
        self.snap("onboarding-start")
        self.step = "connect Instagram"
        self.el("#connect-button").click()  # → sandbox authorize → callback → back to the dashboard
        self.until("connected as @browser_shop", lambda: "Connected as @browser_shop" in self.text_of("#connection-status"))
        self.snap("connected")
        self.privacy_policy()

        self.step = "a first rule from a checklist template"
        self.until("step 1 of the checklist done", lambda: "1 of 5 done" in self.text_of("#onboarding"))
        self.el('#onboarding button[data-template="Opening hours"]').click()
        self.until("step 2 done with the template", lambda: "2 of 5 done" in self.text_of("#onboarding"))
        self.until("the health strip gone once something answers", lambda: not b.find_element(By.CSS_SELECTOR, "#health-strip").is_displayed())

        self.page("rules")
        rules_walk.walk(self)
        menu_walk.walk(self)

        self.step = "a customer writes"
        answer = post(SANDBOX + "/simulate/dm", {"ig_id": INSTAGRAM_ID, "from": "cust-browser", "text": "What is the price of the blue mug?"})
        assert answer.get("ingest_status") == 200, answer

        def replied():
            messages = get(f"{SANDBOX}/simulate/conversations/{INSTAGRAM_ID}")["messages"]
            return any(m["direction"] == "out" and m["customer_id"] == "cust-browser" for m in messages)
        self.until("the bot replied through the Graph API", replied)

        self.page("stats")
        self.until("steps 3 and 4 of the checklist done", lambda: "4 of 5 done" in self.text_of("#onboarding"))

        def counted():
            self.el('button[data-days="7"]').click()
            time.sleep(0.3)
            return self.text_of("#stat-received") == "1" and self.text_of("#stat-replied") == "1"
        self.until("the reply counted in the statistics", counted)
        self.until("the chart drawn", lambda: len(b.find_elements(By.CSS_SELECTOR, "#stats-chart rect")) > 0)
        assert "price" in self.text_of("#stats-rules"), self.text_of("#stats-rules")
        self.snap("stats")

        self.page("activity")
        self.conversation_thread()
        self.until("the checklist done and gone", lambda: not b.find_element(By.CSS_SELECTOR, "#onboarding").is_displayed())
        self.el("#view-events").click()
        self.until("the reply listed in the activity log", lambda: any(
            "What is the price of the blue mug?" in row.text for row in b.find_elements(By.CSS_SELECTOR, 'tr.activity-row[data-outcome="replied"]')))
        self.snap("activity")
        Select(self.el("#activity-filter")).select_by_value("skipped")
        self.until("the filter shows no replied rows", lambda: not b.find_elements(By.CSS_SELECTOR, 'tr.activity-row[data-outcome="replied"]'))

        self.page("ai")
        self.step = "a bad value is refused in words"
        # The page fills its fields when the settings arrive: typing before that would be added to them.
        self.until("the settings loaded", lambda: self.el("#ai-budget").get_attribute("value") != "")
        self.type("#ai-budget", "-5")
        self.el("#ai-save").click()
        self.until("an error in words next to the field", lambda: "daily limit of AI answers" in self.text_of("#ai-budget-error"))
        self.field_error_is_accessible("ai-budget")
        assert "ai_daily_budget" not in self.text_of("#ai-budget-error") and not self.text_of("#message"), self.text_of("#ai-budget-error")
        self.step = "turn the AI on"
        self.type("#ai-budget", "50")
        self.type("#ai-description", "We sell handmade ceramic mugs.")
        self.type("#ai-fallback", "Thanks! We will answer soon.")
        if not self.el("#ai-enabled").is_selected():
            self.el("#ai-enabled").click()
        self.el("#ai-save").click()
        self.until("settings saved", lambda: "saved" in self.text_of("#message").lower() and "error" not in self.el("#message").get_attribute("class"))
        answer = post(SANDBOX + "/simulate/dm", {"ig_id": INSTAGRAM_ID, "from": "cust-ai", "text": "Is the mug dishwasher safe?"})
        assert answer.get("ingest_status") == 200, answer

        def ai_replied():
            messages = get(f"{SANDBOX}/simulate/conversations/{INSTAGRAM_ID}")["messages"]
            return any(m["direction"] == "out" and m["customer_id"] == "cust-ai" and "sandbox AI answer" in m["text"] for m in messages)
        self.until("the AI answered a message no rule matches", ai_replied)
        self.page("activity")
        Select(self.el("#activity-filter")).select_by_value("")
        self.until("the AI reply listed", lambda: any(
            "Is the mug dishwasher safe?" in row.text for row in b.find_elements(By.CSS_SELECTOR, 'tr.activity-row[data-outcome="replied"]')))

        self.hand_off()
        self.health_strip_on_revoked_token()

        self.page("account")
        self.until("the new-password hint gives the server's minimum", lambda: f"At least {minimum} characters." in self.text_of("#new-password-hint"))

        self.step = "every form field has a label"
        unlabeled = b.execute_script(
            "return [...document.querySelectorAll('input, select, textarea')]"
            ".filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))"
            ".map(e => e.id || e.name || e.outerHTML.slice(0, 60))")
        assert not unlabeled, f"fields without a label: {unlabeled}"

        self.phone()

        self.step = "no errors in the browser console"
        # Expected 4xx answers are logged by Chromium as failed loads: the signed-out check at start (GET /api/auth/me →
        # 401) and the refused setting and rule above (400). Anything else — a script error, a CSP violation, a 5xx — fails.
        expected = (("/api/auth/me", "status of 401"), ("/api/settings", "status of 400"), ("/api/rules", "status of 400"))
        errors = [entry["message"] for entry in b.get_log("browser")
                  if entry["level"] == "SEVERE" and not any(path in entry["message"] and status in entry["message"] for path, status in expected)]
        assert not errors, f"console errors: {errors}"

    def conversation_thread(self):
        """The conversations list groups by customer; a thread names the rule that answered; pausing the bot for that
        customer holds its next message back, which appears in the open thread without a reload; then it is resumed."""
        b = self.browser
        row = '#conversation-list [data-customer="cust-browser"]'
        self.until("the customer's conversation listed", lambda: "What is the price of the blue mug?" in self.text_of(row))
        self.snap("conversations")
        self.el(row).click()
        self.until("the thread names the rule that answered",
                   lambda: "What is the price of the blue mug?" in self.text_of("#thread-entries") and "price, how much" in self.text_of("#thread-entries"))
        self.step = "pause the bot for this customer"
        Select(self.el("#pause-minutes")).select_by_value("60")
        self.el("#pause-button").click()
        self.until("the thread says the bot is paused", lambda: "paused for this customer until" in self.text_of("#thread-status"))
        answer = post(SANDBOX + "/simulate/dm", {"ig_id": INSTAGRAM_ID, "from": "cust-browser", "text": "Hello? How much is shipping?"})
        assert answer.get("ingest_status") == 200, answer
        self.until("the new message appears in the open thread on its own, not answered",
                   lambda: "Hello? How much is shipping?" in self.text_of("#thread-entries") and "answering this customer yourself" in self.text_of("#thread-entries"))
        replies = [m for m in get(f"{SANDBOX}/simulate/conversations/{INSTAGRAM_ID}")["messages"]
                   if m["direction"] == "out" and m["customer_id"] == "cust-browser"]
        assert len(replies) == 1, f"the paused customer got {len(replies) - 1} more replies"
        self.snap("thread-paused")
        self.el("#resume-button").click()
        self.until("the bot answers this customer again", lambda: "The bot answers this customer" in self.text_of("#thread-status"))
        self.el("#thread-back").click()
        self.until("back to the list", lambda: b.find_element(By.CSS_SELECTOR, "#conversation-list").is_displayed())

    def field_error_is_accessible(self, field_id):
        """The field is marked invalid, names its error (aria-describedby), the error is an alert, and the field has focus."""
        self.step = f"the error on #{field_id} is accessible"
        b = self.browser
        field = b.find_element(By.ID, field_id)
        assert field.get_attribute("aria-invalid") == "true", f"#{field_id} not aria-invalid"
        assert f"{field_id}-error" in (field.get_attribute("aria-describedby") or ""), field.get_attribute("aria-describedby")
        assert b.find_element(By.ID, f"{field_id}-error").get_attribute("role") == "alert"
        assert b.execute_script("return document.activeElement && document.activeElement.id") == field_id, "focus not on the field"

    def hand_off(self):
        """A hand-off rule made in the dashboard: its reply goes out, and the conversation is counted as waiting for you."""
        b = self.browser
        self.page("rules")
        self.step = "a hand-off rule from the form"
        self.el("#rule-add").click()
        self.type("#rule-keywords", "talk to a person")
        self.type("#rule-reply", "Someone from our team will answer you here.")
        Select(self.el("#rule-action")).select_by_value("hand_off")
        self.type("#rule-hand-off-minutes", "90")
        self.el("#rule-save").click()
        self.until("the rule says it hands over", lambda: "hands the conversation to you for 90 minutes" in self.text_of("#rules-list"))
        answer = post(SANDBOX + "/simulate/dm", {"ig_id": INSTAGRAM_ID, "from": "cust-handoff", "text": "Can I talk to a person?"})
        assert answer.get("ingest_status") == 200, answer

        def waiting():
            self.page("activity")
            self.page("stats")
            time.sleep(0.3)
            return self.text_of("#stat-waiting") == "1"
        self.until("the home page counts the conversation waiting for you", waiting)

    def health_strip_on_revoked_token(self):
        """Instagram revokes the token (the sandbox answers the next send with error 190): every page says so."""
        b = self.browser
        self.step = "the sandbox revokes the token"
        post(SANDBOX + "/sandbox/faults", {"ig_id": INSTAGRAM_ID, "faults": [{"kind": "token_expired", "count": 5}]})
        answer = post(SANDBOX + "/simulate/dm", {"ig_id": INSTAGRAM_ID, "from": "cust-revoked", "text": "What is the price now?"})
        assert answer.get("ingest_status") == 200, answer

        def strip():
            # Through another page: clicking the page already shown does not load it again.
            self.page("ai")
            self.page("stats")
            time.sleep(0.3)
            return "Instagram needs reconnecting" in self.text_of("#health-strip")
        self.until("the health strip says Instagram needs reconnecting", strip)
        assert "Reconnect" in self.text_of("#health-strip")
        self.snap("health-strip")
        self.page("rules")
        self.until("the strip shows on another page too", lambda: "Instagram needs reconnecting" in self.text_of("#health-strip"))

    def phone(self):
        """At 390×844: no sideways scrolling, a compact header, one row of pages, readable chart labels, page titles,
        and focus rings of at least 3:1 against the page."""
        b = self.browser
        self.step = "readable at phone width"
        b.set_window_size(390, 844)
        self.page("stats")
        time.sleep(0.5)
        width = b.execute_script("return document.documentElement.scrollWidth")
        assert width <= 392, f"the page is {width}px wide at a 390px window"
        nav = b.execute_script("""
            const r = document.querySelector('.nav ul').getBoundingClientRect();
            const notices = ['#health-strip', '#onboarding', '#verify-banner', '#policy-banner']
                .map(s => document.querySelector(s)).filter(e => e && !e.hidden).reduce((h, e) => h + e.getBoundingClientRect().height + 12, 0);
            return [r.height, r.bottom - notices]""")
        assert nav[0] < 60, f"the menu takes {nav[0]}px: more than one row"
        assert nav[1] < 170, f"the header and menu (notices aside) end {nav[1]}px down a 844px screen"
        sizes = b.execute_script("return [...document.querySelectorAll('#stats-chart text')].map(t => t.getBoundingClientRect().height)")
        assert sizes and min(sizes) >= 11, f"chart labels {sizes}px tall"
        assert b.title.startswith("Statistics"), b.title
        self.page("rules")
        assert b.title.startswith("Keyword rules"), b.title
        self.step = "focus rings of at least 3:1"
        ratio = b.execute_script("""
            const input = document.querySelector('#try-text'); input.focus();
            const parse = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
            const lum = (rgb) => { const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                                   return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
            const style = getComputedStyle(input);
            if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2) return 0;
            const ring = lum(parse(style.outlineColor));
            const page = lum(parse(getComputedStyle(document.body).backgroundColor));
            return (Math.max(ring, page) + 0.05) / (Math.min(ring, page) + 0.05);""")
        assert ratio >= 3, f"focus ring contrast {ratio:.2f}:1 (0: no ring of at least 2px)"
        self.snap("phone-rules")

    def privacy_policy(self):
        """The footer's link opens the policy page with its date and version; sign-up accepted it, so no notice shows."""
        b = self.browser
        self.until("no privacy notice after accepting at sign-up", lambda: not b.find_element(By.CSS_SELECTOR, "#policy-banner").is_displayed())
        version = get(DASHBOARD + "/api/config")["privacy_policy_version"]
        self.step = "open the privacy policy from the footer"
        self.el("#footer-privacy").click()
        self.until("the policy page shows its date and version",
                   lambda: "Last updated" in self.text_of(".policy-meta") and f"version {version}" in self.text_of(".policy-meta"))
        assert "{{" not in b.page_source
        self.snap("privacy-policy")
        b.get(DASHBOARD + "/")
        self.until("back in the dashboard", lambda: b.find_element(By.CSS_SELECTOR, "#app").is_displayed())

    def verify_by_mail(self, email):
        mail_walk.verify_by_mail(self, email)

    def mail_walk(self):
        mail_walk.walk(self)


def main():
    browser = driver()
    steps = Steps(browser)
    try:
        steps.run()
        steps.mail_walk()
    except Exception:
        traceback.print_exc()
        print(f"browser test: FAILED at step: {steps.step}; screenshot and page source in {ARTIFACTS}/", file=sys.stderr)
        try:
            steps.snap("failure")
            with open(os.path.join(ARTIFACTS, "failure.html"), "w") as page:
                page.write(browser.page_source)
            with open(os.path.join(ARTIFACTS, "failure-console.txt"), "w") as console:
                console.write("\n".join(e["message"] for e in browser.get_log("browser")))
        except Exception:
            pass
        browser.quit()
        print("browser: 0 passed, 1 failed")
        return 1
    browser.quit()
    print("browser: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
