"""A menu of quick replies, built in the rules form and followed on the "Try the bot" page (dashboard_test.py calls
walk() on the Rules page, once Instagram is connected): rule C hands the conversation to a person for 30 minutes, rule B
answers prices with a quick reply to C, rule A is the menu with quick replies to B and C. Then, as a new customer:
"menu" → two quick replies, tap "Prices" → B's answer, tap "Talk to a person" → handed over for 30 minutes; the state
the page keeps makes the next message go unanswered, and "New customer" starts again.

To run it, dashboard_test.py needs `import menu_walk` next to `import rules_walk`, and this line right after
`rules_walk.walk(self)` in Steps.run():

        menu_walk.walk(self)
"""

from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from rules_walk import card_of, open_panel

MENU_REPLY = "What can I help with?"
PRICES_REPLY = "Our prices: mugs from 12 EUR, plates from 18 EUR."
PERSON_REPLY = "Someone from our team will answer you here soon."


def choose_rule(steps, select_css, keyword):
    """Picks, in an "answered by" list, the rule whose first keyword is `keyword` (its label starts with “keyword”)."""
    select = Select(steps.el(select_css))
    labels = [o.text for o in select.options]
    values = [o.get_attribute("value") for o in select.options if o.text.startswith(f"“{keyword}”")]
    assert len(values) == 1, f"the rule “{keyword}” is not once in the list: {labels}"
    select.select_by_value(values[0])


def option_row(n):
    return f"#rule-option-rows .option-row:nth-child({n})"


def save_and_see(steps, reply):
    steps.el("#rule-save").click()
    steps.until(f"the rule replying {reply!r} listed, the panel closed", lambda: reply in steps.text_of("#rules-list")
                and not steps.browser.execute_script("return document.querySelector('#rule-panel').open"))


def make_rules(steps):
    b = steps.browser
    steps.step = "menu walk: rule C hands the conversation to a person for 30 minutes"
    open_panel(steps)
    steps.type("#rule-keywords", "human please")
    steps.type("#rule-reply", PERSON_REPLY)
    Select(steps.el("#rule-action")).select_by_value("hand_off")
    steps.type("#rule-hand-off-minutes", "30")
    save_and_see(steps, PERSON_REPLY)

    steps.step = "menu walk: rule B answers prices, with a quick reply to C"
    open_panel(steps)
    steps.type("#rule-keywords", "prices")
    steps.type("#rule-reply", PRICES_REPLY)
    assert not b.find_element(By.CSS_SELECTOR, "#rule-option-rows").is_displayed(), "options shown before choosing any"
    Select(steps.el("#rule-option-kind")).select_by_value("quick_replies")
    steps.type(f"{option_row(1)} .option-title", "Talk to a person")
    choose_rule(steps, f"{option_row(1)} .option-next", "human please")
    steps.until("menu walk: the preview shows the reply with its quick reply",
                lambda: PRICES_REPLY in steps.text_of("#rule-preview .preview-bubble")
                and steps.text_of("#rule-preview .preview-chips") == "Talk to a person")
    save_and_see(steps, PRICES_REPLY)

    steps.step = "menu walk: rule A is the menu"
    open_panel(steps)
    steps.type("#rule-keywords", "menu")
    steps.type("#rule-reply", MENU_REPLY)
    Select(steps.el("#rule-option-kind")).select_by_value("quick_replies")
    steps.type(f"{option_row(1)} .option-title", "Prices")
    choose_rule(steps, f"{option_row(1)} .option-next", "prices")
    steps.el("#rule-option-add").click()
    steps.until("menu walk: a second option row, its title focused", lambda: b.execute_script(
        "return document.activeElement === document.querySelector(arguments[0])", f"{option_row(2)} .option-title"))
    steps.type(f"{option_row(2)} .option-title", "Talk to a person")
    choose_rule(steps, f"{option_row(2)} .option-next", "human please")
    steps.until("menu walk: the preview shows both quick replies",
                lambda: [li.text for li in b.find_elements(By.CSS_SELECTOR, "#rule-preview .preview-chips li")] == ["Prices", "Talk to a person"])

    steps.step = "menu walk: with buttons the reply counts to 640 and at most 3 may be added"
    steps.type(f"{option_row(1)} .option-title", "Prices and much more")  # 20 characters: the limit
    steps.until("menu walk: the title's counter at its limit", lambda: "20 / 20 characters" in steps.text_of(f"{option_row(1)} .counter"))
    steps.type(f"{option_row(1)} .option-title", "Prices")
    Select(steps.el("#rule-option-kind")).select_by_value("buttons")
    steps.until("menu walk: the reply's counter says 640", lambda: "/ 640 characters" in steps.text_of("#rule-reply-count"))
    steps.until("menu walk: the preview shows buttons", lambda: len(b.find_elements(By.CSS_SELECTOR, "#rule-preview .preview-buttons li")) == 2)
    steps.el("#rule-option-add").click()
    steps.until("menu walk: no fourth button", lambda: len(b.find_elements(By.CSS_SELECTOR, "#rule-option-rows .option-row")) == 3
                and not steps.el("#rule-option-add").is_enabled())
    steps.el(f"{option_row(3)} .option-remove").click()
    steps.until("menu walk: two rows again, one can be added", lambda: len(b.find_elements(By.CSS_SELECTOR, "#rule-option-rows .option-row")) == 2
                and steps.el("#rule-option-add").is_enabled())
    Select(steps.el("#rule-option-kind")).select_by_value("quick_replies")
    steps.until("menu walk: the reply's counter says 1,000 again", lambda: "/ 1,000 characters" in steps.text_of("#rule-reply-count"))
    save_and_see(steps, MENU_REPLY)
    steps.until("menu walk: the menu's card says it has 2 quick replies",
                lambda: card_of(steps, MENU_REPLY).find_element(By.CSS_SELECTOR, ".badge").text == "2 quick replies")
    assert "1 quick reply" == card_of(steps, PRICES_REPLY).find_element(By.CSS_SELECTOR, ".badge").text
    assert not card_of(steps, PERSON_REPLY).find_elements(By.CSS_SELECTOR, ".badge")

    steps.step = "menu walk: editing the menu shows its options, answered by the rules chosen"
    card_of(steps, MENU_REPLY).find_element(By.CSS_SELECTOR, "button[id^=rule-edit-]").click()
    steps.until("menu walk: the form has the two quick replies", lambda: Select(steps.el("#rule-option-kind")).first_selected_option.get_attribute("value") == "quick_replies"
                and [i.get_attribute("value") for i in b.find_elements(By.CSS_SELECTOR, "#rule-option-rows .option-title")] == ["Prices", "Talk to a person"])
    assert Select(steps.el(f"{option_row(1)} .option-next")).first_selected_option.text.startswith("“prices”")
    assert Select(steps.el(f"{option_row(2)} .option-next")).first_selected_option.text.startswith("“human please”")
    steps.el("#rule-cancel").click()


def last_bot_note(steps):
    notes = steps.browser.find_elements(By.CSS_SELECTOR, "#try-log .try-note")
    if not notes:
        raise NoSuchElementException("no answer yet")
    return notes[-1]


def chips(steps):
    return [c.text.strip() for c in steps.browser.find_elements(By.CSS_SELECTOR, "#try-log .try-quick-reply")]


def bot_texts(steps):
    return [m.text for m in steps.browser.find_elements(By.CSS_SELECTOR, "#try-log .try-bubble.bot")]


def tap(steps, title):
    for chip in steps.browser.find_elements(By.CSS_SELECTOR, "#try-log .try-quick-reply"):
        if chip.text.strip() == title:
            chip.click()
            return
    raise AssertionError(f"no quick reply {title!r} to tap; there are {chips(steps)}")


def send(steps, text):
    steps.type("#try-input", text)
    steps.el("#try-send").click()


def try_the_menu(steps):
    b = steps.browser
    steps.page("try")
    steps.el("#try-reset").click()
    steps.until("menu walk: a new customer, nothing in the chat", lambda: not b.find_elements(By.CSS_SELECTOR, "#try-log li"))

    steps.step = "menu walk: “menu” is answered by the menu with two quick replies"
    send(steps, "menu")
    steps.until("menu walk: the bot answers with the menu", lambda: any(MENU_REPLY in t for t in bot_texts(steps)))
    assert [m.text for m in b.find_elements(By.CSS_SELECTOR, "#try-log .try-bubble.customer .try-text")] == ["menu"]
    assert chips(steps) == ["Prices", "Talk to a person"], chips(steps)
    assert last_bot_note(steps).find_element(By.CSS_SELECTOR, ".try-explanation").text.strip(), "no explanation under the answer"
    assert not b.find_elements(By.CSS_SELECTOR, "#try-log .try-hand-off")
    steps.snap("try-menu")

    steps.step = "menu walk: tapping “Prices” is answered by the prices rule"
    tap(steps, "Prices")
    steps.until("menu walk: the prices answer", lambda: any("Our prices" in t for t in bot_texts(steps)))
    steps.until("menu walk: only the prices rule's quick reply is left", lambda: chips(steps) == ["Talk to a person"])
    assert [m.text for m in b.find_elements(By.CSS_SELECTOR, "#try-log .try-bubble.customer .try-text")] == ["menu", "Prices"]

    steps.step = "menu walk: tapping “Talk to a person” hands the conversation over for 30 minutes"
    tap(steps, "Talk to a person")
    steps.until("menu walk: handed over for 30 minutes", lambda: "30 minutes" in last_bot_note(steps).find_element(By.CSS_SELECTOR, ".try-hand-off").text)
    assert any(PERSON_REPLY in t for t in bot_texts(steps)), bot_texts(steps)
    steps.snap("try-hand-off")

    steps.step = "menu walk: the state kept by the page: the handed-over conversation gets no answer"
    answers = len(bot_texts(steps))
    send(steps, "menu")
    steps.until("menu walk: nothing would be sent", lambda: len(b.find_elements(By.CSS_SELECTOR, "#try-log .try-bubble.customer")) == 4
                and "Nothing would be sent" in last_bot_note(steps).text)
    assert len(bot_texts(steps)) == answers, bot_texts(steps)

    steps.step = "menu walk: a new customer gets the menu again"
    steps.el("#try-reset").click()
    steps.until("menu walk: the chat emptied", lambda: not b.find_elements(By.CSS_SELECTOR, "#try-log li"))
    send(steps, "menu")
    steps.until("menu walk: the menu again, with its quick replies", lambda: any(MENU_REPLY in t for t in bot_texts(steps))
                and chips(steps) == ["Prices", "Talk to a person"])


def walk(steps):
    steps.page("rules")
    make_rules(steps)
    try_the_menu(steps)
    steps.page("rules")
