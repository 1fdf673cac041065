"""The rules page part of the browser test (dashboard_test.py calls walk() right after opening the page): the tester at
the top, the list with on/off switches and replies in the last 30 days, the form in a panel (a modal dialog: focus in,
Escape out) with field errors inside it, the words for each match type, and the warning for a rule that can never
answer. The warning logic itself (js/pages/rules-shadow.js) is checked against cases in the page (check_shadows)."""

import json

from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select


def r(rule_id, keywords, match_type="contains", **extra):
    return {"id": rule_id, "keywords": keywords, "match_type": match_type, "negative_keywords": extra.get("negative", []),
            "priority": extra.get("priority", 0), "enabled": extra.get("enabled", True), "reply": "x"}


# Rules in the order the matcher tries them → {rule id: (keywords that can never answer, whether none of its can)}.
SHADOW_CASES = [
    ("the same keyword later", [r("a", ["price", "how much"], priority=1), r("b", ["Price", "cost"])], {"b": (["Price"], False)}),
    ("a phrase holding an earlier keyword", [r("a", ["price"]), r("b", ["price list"])], {"b": (["price list"], True)}),
    ("a narrower earlier keyword", [r("a", ["price list"]), r("b", ["price"])], {}),
    ("exact does not cover contains", [r("a", ["price"], "exact"), r("b", ["price"])], {}),
    ("starts with covers exact and starts with", [r("a", ["hi"], "starts_with"), r("b", ["hi there"], "exact"),
                                                  r("c", ["Hi!"], "starts_with"), r("d", ["hi"])], {"b": (["hi there"], True), "c": (["Hi!"], True)}),
    ("an earlier rule's negative keyword lets messages through", [r("a", ["price"], negative=["refund"]), r("b", ["price"]),
                                                                  r("c", ["price"], negative=["refund"])], {"c": (["price"], True)}),
    ("rules that are off", [r("a", ["price"], enabled=False), r("b", ["price"]), r("c", ["price"], enabled=False)], {}),
    ("any word", [r("a", ["opening hours"], "any_word"), r("b", ["hours"]), r("c", ["hours please"], "any_word"),
                  r("d", ["Hours, opening"], "any_word")], {"b": (["hours"], True), "d": (["Hours, opening"], True)}),
    ("patterns are left alone", [r("a", ["^price"], "regex"), r("b", ["price"]), r("c", ["price"], "regex")], {}),
    ("case, accents and punctuation", [r("a", ["Café"]), r("b", ["CAFE!!"]), r("c", ["straße"]), r("d", ["STRASSE"])],
     {"b": (["CAFE!!"], True), "d": (["STRASSE"], True)}),
]


def check_shadows(steps):
    steps.step = "the never-answer logic (js/pages/rules-shadow.js) on its cases"
    got = steps.browser.execute_async_script("""
        const [cases, done] = arguments;
        import('/js/pages/rules-shadow.js').then((m) => done(cases.map((rules) => Object.fromEntries(
            [...m.findShadows(rules)].map(([id, s]) => [id, [s.keywords.map((k) => k.keyword), s.never]])))))
          .catch((e) => done(String(e)));""", [rules for _, rules, _ in SHADOW_CASES])
    assert isinstance(got, list), got
    for (name, _, expected), answer in zip(SHADOW_CASES, got):
        want = {k: [v[0], v[1]] for k, v in expected.items()}
        assert answer == want, f"{name}: {json.dumps(answer)} instead of {json.dumps(want)}"


def card_of(steps, reply):
    """The card whose reply reads `reply` (NoSuchElementException, which the waits ignore, while there is none)."""
    for card in steps.browser.find_elements(By.CSS_SELECTOR, "#rules-list li[data-rule-id]"):
        if card.find_element(By.CSS_SELECTOR, ".rule-reply").text.strip() == reply:
            return card
    raise NoSuchElementException(f"no rule card replying {reply!r}")


def is_on(steps, reply):
    return card_of(steps, reply).find_element(By.CSS_SELECTOR, "input[role=switch]").is_selected()


def open_panel(steps):
    steps.el("#rule-add").click()
    steps.until("the panel open, focus in it", lambda: steps.browser.execute_script(
        "return document.querySelector('#rule-panel').open && document.activeElement.id === 'rule-keywords'"))


def walk(steps):
    b = steps.browser
    steps.until("the template's rule listed", lambda: "We are open Monday to Saturday" in steps.text_of("#rules-list"))
    steps.step = "the tester comes before the list, the list before the panel"
    assert b.execute_script("""const [t, l, a] = ['#try-form', '#rules-list', '#rule-add'].map((s) => document.querySelector(s));
        return Boolean(t.compareDocumentPosition(l) & 4) && Boolean(l.compareDocumentPosition(a) & 4)""")
    open_panel(steps)
    b.switch_to.active_element.send_keys(Keys.ESCAPE)
    steps.until("Escape closes the panel and focus returns to its button", lambda: b.execute_script(
        "return !document.querySelector('#rule-panel').open && document.activeElement.id === 'rule-add'"))

    steps.step = "a reply over the limit is refused next to the field in the panel, counted in characters"
    open_panel(steps)
    steps.type("#rule-keywords", "essay")
    b.execute_script("const f = document.querySelector('#rule-reply'); f.value = arguments[0]; f.dispatchEvent(new Event('input'))", "é" * 1001)
    steps.until("the counter counts characters", lambda: "1,001 / 1,000 characters" in steps.text_of("#rule-reply-count"))
    steps.el("#rule-save").click()
    steps.until("the server's error under the reply field", lambda: "under 1,000 characters" in steps.text_of("#rule-panel #rule-reply-error"))
    steps.field_error_is_accessible("rule-reply")
    assert "bytes" not in steps.text_of("#rule-reply-error"), steps.text_of("#rule-reply-error")
    steps.snap("field-error")
    steps.type("#rule-keywords", "")
    steps.type("#rule-reply", "")
    steps.type("#rule-keywords", "price, how much")
    steps.type("#rule-reply", "Our prices start at 10 EUR.")
    steps.el("#rule-save").click()
    steps.until("the rule listed, the panel closed", lambda: "Our prices start at 10 EUR." in steps.text_of("#rules-list")
                and not b.execute_script("return document.querySelector('#rule-panel').open"))
    steps.until("its replies in the last 30 days shown", lambda: "No replies in the last 30 days" in card_of(steps, "Our prices start at 10 EUR.").text)
    steps.type("#try-text", "What is the PRICE of the blue mug?")
    steps.el("#try-form button[type=submit]").click()
    steps.until("the tester names the rule", lambda: "Our prices start at 10 EUR." in steps.text_of("#try-result"))
    steps.until("no field error left after the success", lambda: not b.find_elements(By.CSS_SELECTOR, "#rule-form .field-error"))

    steps.step = "clear words for each match type, and a hint that follows the choice"
    open_panel(steps)
    assert "“cost” does not match “costs”" in Select(steps.el("#rule-match-type")).first_selected_option.text
    Select(steps.el("#rule-match-type")).select_by_value("exact")
    steps.until("the hint follows the choice", lambda: "not “hi there”" in steps.text_of("#rule-match-type-hint"))
    Select(steps.el("#rule-match-type")).select_by_value("contains")
    steps.until("the hint for contains", lambda: "does not match “costs”" in steps.text_of("#rule-match-type-hint"))
    steps.step = "a rule that can never answer is saved with a warning next to its keywords"
    steps.type("#rule-keywords", "price")
    steps.type("#rule-reply", "Never sent.")
    steps.type("#rule-priority", "-1")
    steps.el("#rule-save").click()
    steps.until("the warning under the keywords", lambda: "never reaches this rule" in steps.text_of("#rule-keywords-warning")
                and "“price, how much” (higher priority)" in steps.text_of("#rule-keywords-warning"))
    steps.snap("rule-warning")
    steps.el("#rule-cancel").click()
    steps.until("the card says it can never answer", lambda: "This rule can never answer" in card_of(steps, "Never sent.").find_element(By.CSS_SELECTOR, "[role=note]").text)

    b.execute_script("arguments[0].scrollIntoView()", card_of(steps, "Our prices start at 10 EUR."))
    steps.snap("rules-list")
    steps.step = "turn the rule off with its switch"
    switch = card_of(steps, "Never sent.").find_element(By.CSS_SELECTOR, "input[role=switch]")
    assert switch.is_selected() and "Rule “price”" in b.execute_script("return arguments[0].labels[0].textContent", switch)
    switch.click()
    steps.until("saved off, the warning gone", lambda: "turned off" in steps.text_of("#message") and not is_on(steps, "Never sent.")
                and not card_of(steps, "Never sent.").find_elements(By.CSS_SELECTOR, "[role=note]"))
    b.refresh()
    steps.until("after a reload the card shows it off", lambda: not is_on(steps, "Never sent.")
                and "off" in card_of(steps, "Never sent.").get_attribute("class").split())
    steps.step = "the cards and the panel fit a phone"
    b.set_window_size(390, 844)
    b.execute_script("document.querySelector('#rules-list').scrollIntoView()")
    assert b.execute_script("return document.documentElement.scrollWidth") <= 392
    steps.snap("rules-list-phone")
    open_panel(steps)
    assert b.execute_script("return document.querySelector('#rule-panel').getBoundingClientRect().right") <= 390
    steps.el("#rule-cancel").click()
    b.set_window_size(1280, 1000)
    check_shadows(steps)
