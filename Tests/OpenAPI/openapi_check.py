"""The dashboard API against its OpenAPI document, on running services (scripts/openapi-check.sh starts them).

Phases, each from its own client address (X-Forwarded-For through the trusted proxy 127.0.0.1), so that rate limits one
phase spends do not refuse the next:
  setup     accounts through the API itself: A (verified, Instagram connected through the sandbox's OAuth, a rule, an
            Ice Breaker, the AI on; customers' messages answered by each, then one customer found, exported, erased),
            B (verified) and C (unverified); every answer checked against the document
  fuzz      schemathesis over every operation of auth (A's session) but sign-out and disconnect, then over analytics'
            (A's session); examples, coverage and fuzzing phases, positive and negative data. Password change and
            account deletion are fuzzed too: without A's password (random, never in the document) they are refused
  paths     the answers random data cannot reach, made on purpose and checked the same way: a rule read, changed and
            deleted, the CSRF rule, a body too large, the mailed links (verify, change of email, reset), the password
            changed, the policy accepted, the export, the document itself, A disconnected, C signed out, B deleted
  last      schemathesis over sign-out and disconnect (A's session ends here; A was disconnected on purpose before)
Then what every operation answered, from the services' own request counters (.build/openapi-check/answers.txt).
Prints one line per check and `N passed, N failed`; exits 1 on any failure. Never prints a password, token or cookie
(schemathesis' output hides cookies; the cookie reaches it through its environment).
"""

import argparse
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests
import schemathesis
import yaml
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
CHECK_NAMES = ",".join(check.__name__ for check in CHECKS)
# Operations whose success ends the session or the connection: fuzzed last.
LAST = ["signOut", "disconnectInstagram"]
ANALYTICS = ["getStats", "getActivity", "getConversations"]


class Run:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.results = []  # (name, ok, detail)
        self.exercised = set()  # operation ids
        self.seen = {}  # the last mailed token per address
        self.origin = args.auth
        # The development cookie name: the document names production's __Host-ft_session.
        document = yaml.safe_load(Path(args.spec).read_text())
        document["components"]["securitySchemes"]["session"]["name"] = "ft_session"
        self.dev_spec = self.out / "openapi.development.yaml"
        self.dev_spec.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        self.schema = schemathesis.openapi.from_path(str(self.dev_spec))
        self.operations = {op["operationId"]: (method.upper(), path)
                           for path, item in document["paths"].items()
                           for method, op in item.items() if method in ("get", "post", "put", "delete")}

    def record(self, name, ok, detail=""):
        self.results.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'}  {name}" + (f"\n      {detail}" if detail and not ok else ""), flush=True)

    # --- one request, checked against the document -------------------------------------------------------------------

    def call(self, client, operation_id, expect, body=None, path=None, query=None, cookie=None, base=None, origin=True, override=None):
        """Sends one request as `client` (an address) and checks the answer; returns the response (None on failure).
        `origin`: the dashboard's Origin on a state-changing request, or another one (False: none); `override`: headers
        sent in place of the case's."""
        method, route = self.operations[operation_id]
        self.exercised.add(operation_id)
        headers = {"X-Forwarded-For": client}
        if method != "GET" and origin:
            headers["Origin"] = self.origin if origin is True else origin
        kwargs = {"path_parameters": path or {}, "query": query or {}, "headers": headers,
                  "cookies": {"ft_session": cookie} if cookie else {}}
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        elif method != "GET":
            kwargs.update(body={}, media_type="application/json")
        case = self.schema[route][method].Case(**kwargs)
        name = f"{operation_id} → {expect}"
        try:
            response = case.call(base_url=base or self.args.auth, headers=override, allow_redirects=False)
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as error:  # a failure group names every check that failed
            self.record(name, False, _short(error))
            return None
        if response.status_code != expect:
            self.record(name, False, f"{method} {route}: status {response.status_code}, expected {expect}")
            return None
        self.record(name, True)
        return response

    def mail_token(self, address):
        """The token of the newest mail to `address` the sandbox caught (auth's worker sends within a second or two)."""
        for _ in range(100):
            messages = requests.get(f"{self.args.sandbox}/sandbox/mail", params={"to": address}, timeout=5).json()["messages"]
            if messages:
                found = re.search(r"token=([\w-]+)", messages[-1]["text"])
                if found and found[1] != self.seen.get(address):
                    self.seen[address] = found[1]
                    return found[1]
            time.sleep(0.1)
        raise RuntimeError(f"no new mail with a link reached {address}")

    def account(self, client, name, verify=True):
        email, password = f"{name}-{secrets.token_hex(4)}@example.com", "pw-" + secrets.token_urlsafe(18)
        self.call(client, "signUp", 201, {"email": email, "password": password, "privacy_policy_version": self.policy})
        response = self.call(client, "signIn", 200, {"email": email, "password": password})
        cookie = _cookie(response)
        if verify:
            self.call(client, "verifyEmail", 200, {"token": self.mail_token(email)})
        return {"email": email, "password": password, "cookie": cookie}

    # --- phases -----------------------------------------------------------------------------------------------------

    def setup(self):
        client = "192.0.2.1"
        self.policy = self.call(client, "getConfig", 200).json()["privacy_policy_version"]
        self.a, self.b = self.account(client, "a"), self.account(client, "b")
        self.c = self.account(client, "c", verify=False)
        self.call(client, "connectInstagram", 403, cookie=self.c["cookie"])  # email_unverified
        a = self.a["cookie"]
        started = self.call(client, "connectInstagram", 200, cookie=a)
        # The real round trip: the sandbox approves at once and sends the browser back to auth's callback.
        session = requests.Session()
        session.cookies.set("ft_session", a)
        back = session.get(started.json()["authorize_url"], allow_redirects=True, timeout=10)
        if "instagram=connected" not in back.url:
            raise RuntimeError(f"Instagram connection failed: {back.url.split('?')[-1]}")
        self.call(client, "createRule", 201, {"keywords": ["hello"], "reply": "Hello from the shop!", "priority": 5}, cookie=a)
        self.call(client, "replaceIceBreakers", 200, {"items": [{"question": "Opening hours?", "answer": "9 to 5."}]}, cookie=a)
        self.call(client, "updateSettings", 200, {"cooldown_seconds": 0, "ai_enabled": True, "fallback_text": "Soon."}, cookie=a)
        # Customers write: two messages a rule answers, one the (sandbox's) AI answers, and a tap on the Ice Breaker once
        # dispatch has synced it to the sandbox (its payload is made by the server).
        sandbox = self.args.sandbox
        for text in ("hello there", "hello again", "Do you ship abroad?"):
            requests.post(f"{sandbox}/simulate/dm", json={"ig_id": self.args.ig, "from": "c1", "text": text}, timeout=20)
        for _ in range(200):
            synced = requests.get(f"{sandbox}/simulate/ice-breakers/{self.args.ig}", timeout=5).json().get("ice_breakers")
            if synced:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the Ice Breakers never reached the sandbox")
        tap = synced[0]["call_to_actions"][0]
        requests.post(f"{sandbox}/simulate/postback", json={"ig_id": self.args.ig, "from": "c2", "title": tap["question"],
                                                            "payload": tap["payload"]}, timeout=20)
        for _ in range(200):  # dispatch answers within a second or two
            page = requests.get(f"{self.args.analytics}/api/activity", cookies={"ft_session": a}, timeout=5).json()
            if {item.get("source") for item in page["items"] if item["outcome"] == "replied"} >= {"rule", "ai", "ice_breaker"}:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the simulated messages were not all answered (by a rule, the AI and an Ice Breaker)")
        self.call(client, "getActivity", 200, cookie=a, base=self.args.analytics)
        self.call(client, "getActivity", 200, query={"limit": 1}, cookie=a, base=self.args.analytics)
        self.call(client, "getStats", 200, query={"tz": "Europe/Paris"}, cookie=a, base=self.args.analytics)
        # A's customer now, before the fuzzing spends the account's 120 customer look-ups an hour.
        self.call(client, "findCustomers", 200, query={"q": "hello"}, cookie=a)
        self.call(client, "exportCustomer", 200, path={"igsid": "c1"}, cookie=a)
        self.call(client, "eraseCustomer", 200, path={"igsid": "c1"}, cookie=a)
        self.call(client, "exportCustomer", 404, path={"igsid": "c1"}, cookie=a)
        self.record("setup: accounts A (connected; a rule, the AI and an Ice Breaker answered its customers), B, C", True)

    def schemathesis(self, name, operation_ids, base, cookie, client, max_examples):
        config = self.out / f"{name}.toml"
        # The cookie reaches schemathesis through its environment, never a file or a command line.
        config.write_text('[auth.openapi.session]\napi_key = "${OPENAPI_SESSION}"\n'
                          f'[auth.openapi.dashboardOrigin]\napi_key = "{self.origin}"\n')
        command = [str(Path(sys.executable).parent / "st"), "--config-file", str(config.resolve()), "run", str(self.dev_spec.resolve()), "--url", base,
                   "--checks", CHECK_NAMES, "--phases", "examples,coverage,fuzzing", "--mode", "all",
                   "--max-examples", str(max_examples), "--seed", str(self.args.seed), "--workers", "2",
                   "--header", f"X-Forwarded-For: {client}", "--request-timeout", "10", "--no-color",
                   "--report", "junit", "--report-junit-path", str((self.out / f"{name}.junit.xml").resolve()),
                   "--generation-database", "none"]
        for operation_id in operation_ids:
            command += ["--include-operation-id", operation_id]
        started = time.monotonic()
        with open(self.out / f"{name}.log", "w") as log:
            # In the output folder: schemathesis keeps a cache (.schemathesis/) where it runs.
            status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.out,
                                    env={**os.environ, "OPENAPI_SESSION": cookie}).returncode
        text = (self.out / f"{name}.log").read_text()
        self.exercised.update(operation_ids)
        cases = re.search(r"Test cases:\s*\n\s*(.+)", text)
        self.record(f"schemathesis {name}: {len(operation_ids)} operations, {cases[1] if cases else 'no test cases'}, "
                    f"{time.monotonic() - started:.0f} s", status == 0, f"exit {status}; all of it in {self.out}/{name}.log")
        if status != 0:  # schemathesis' own account of each failure, with the request to reproduce it
            failures = re.search(r"=+ FAILURES =+\n(.*?)\n=+ (WARNINGS|SUMMARY) =+", text, re.S)
            lines = [line for line in (failures[1] if failures else text).splitlines() if line.strip()][:80]
            print("\n".join("      " + line for line in lines))

    def fuzz(self):
        auth = [op for op in self.operations if op not in LAST + ANALYTICS]
        self.schemathesis("auth", auth, self.args.auth, self.a["cookie"], "192.0.2.10", self.args.examples)
        self.schemathesis("analytics", ANALYTICS, self.args.analytics, self.a["cookie"], "192.0.2.11", self.args.examples * 2)

    def paths(self):
        client, a, b = "192.0.2.2", self.a["cookie"], self.b["cookie"]
        rule = self.call(client, "createRule", 201, {"keywords": ["price", "cost"], "match_type": "any_word", "reply": "It is 5 €."}, cookie=b)
        rule_id = rule.json()["rule"]["id"]
        self.call(client, "getRule", 200, path={"id": rule_id}, cookie=b)
        self.call(client, "getRule", 404, path={"id": rule_id}, cookie=a)  # another account's rule
        self.call(client, "updateRule", 200, {"keywords": ["price"], "reply": "It is 6 €.", "enabled": True}, path={"id": rule_id}, cookie=b)
        # Instagram's limits on a rule's options (issue 16), refused by the running service next to their field.
        def options(count, title="Option"):
            return [{"title": f"{title} {i}", "next_rule_id": rule_id} for i in range(count)]
        for body, field, words in [
            ({"quick_replies": options(14)}, "quick_replies", "at most 13 quick replies"),
            ({"quick_replies": [{"title": "x" * 21, "next_rule_id": rule_id}]}, "quick_replies", "has 21"),
            ({"buttons": options(4, "B")}, "buttons", "at most 3 buttons"),
        ]:
            refused = self.call(client, "createRule", 400, {"keywords": ["menu"], "reply": "Pick one", **body}, cookie=b)
            error = refused.json()["error"] if refused is not None else {}
            self.record(f"a rule with {field} past Instagram's limit: field {field}, “{words}”",
                        error.get("field") == field and words in error.get("message", ""), str(error))
        self.call(client, "createRule", 201, {"keywords": ["menu"], "reply": "Pick one", "quick_replies": options(13)}, cookie=b)
        self.call(client, "testRules", 200, {"text": "What is the price?"}, cookie=b)
        self.call(client, "testRules", 413, {"text": "x" * (2 << 20)}, cookie=b)
        self.call(client, "testRules", 400, {"text": "x" * 4001}, cookie=b)  # text_too_long
        self.call(client, "tryTheBot", 200, {"text": "What is the price?"}, cookie=b)
        self.call(client, "tryTheBot", 400, {"text": "hi", "story": "post"}, cookie=b)  # invalid_try
        self.call(client, "createRule", 403, {"keywords": ["a"], "reply": "b"}, cookie=b, origin=False)  # cross_site_request
        self.call(client, "createRule", 403, {"keywords": ["a"], "reply": "b"}, cookie=b, origin="http://evil.example")
        self.call(client, "createRule", 403, {"keywords": ["a"], "reply": "b"}, cookie=b, override={"Content-Type": "text/plain"})
        self.call(client, "createRule", 401, {"keywords": ["a"], "reply": "b"})
        self.call(client, "listRules", 200, cookie=b)
        self.call(client, "deleteRule", 204, path={"id": rule_id}, cookie=b)
        self.call(client, "deleteRule", 404, path={"id": rule_id}, cookie=b)
        self.call(client, "resendVerification", 200, cookie=b)  # already_verified
        self.call(client, "resendVerification", 202, cookie=self.c["cookie"])
        self.call(client, "acceptPrivacyPolicy", 204, {"version": self.policy}, cookie=b)
        self.call(client, "acceptPrivacyPolicy", 409, {"version": self.policy + ".0"}, cookie=b)
        self.call(client, "exportAccount", 200, cookie=b)
        new_email = f"b2-{secrets.token_hex(4)}@example.com"
        self.call(client, "changeEmail", 202, {"email": new_email, "password": self.b["password"]}, cookie=b)
        self.call(client, "verifyEmail", 200, {"token": self.mail_token(new_email)})  # email_changed
        self.call(client, "requestPasswordReset", 202, {"email": new_email})
        reset_password = "pw-" + secrets.token_urlsafe(18)
        self.call(client, "confirmPasswordReset", 200, {"token": self.mail_token(new_email), "password": reset_password})
        self.call(client, "me", 401, cookie=b)  # the reset ended every session
        b = _cookie(self.call(client, "signIn", 200, {"email": new_email, "password": reset_password}))
        final_password = "pw-" + secrets.token_urlsafe(18)
        changed = self.call(client, "changePassword", 204, {"current_password": reset_password, "new_password": final_password}, cookie=b)
        self.call(client, "me", 401, cookie=b)  # the old session ended
        b = _cookie(changed)
        self.call(client, "me", 200, cookie=b)
        self.call(client, "disconnectInstagram", 204, cookie=a)  # A's connection, made in setup
        self.call(client, "signOut", 204, cookie=self.c["cookie"])
        self.call(client, "me", 401, cookie=self.c["cookie"])
        self.call(client, "deleteAccount", 401, {"password": "not the password"}, cookie=b)
        self.call(client, "deleteAccount", 204, {"password": final_password}, cookie=b)
        self.call(client, "me", 401, cookie=b)
        served = requests.get(f"{self.args.auth}/api/openapi.yaml", timeout=5)
        self.exercised.add("getOpenAPI")
        same = served.status_code == 200 and served.content == Path(self.args.spec).read_bytes()
        self.record("GET /api/openapi.yaml serves docs/openapi.yaml byte for byte", same,
                    f"status {served.status_code}, {len(served.content)} bytes, content type {served.headers.get('content-type')}")
        if served.status_code == 200:
            self.call(client, "getOpenAPI", 200)

    def answers(self):
        """What each documented operation answered over the whole run, from the services' own request counters."""
        seen = {}
        for base in (self.args.auth, self.args.analytics):
            for labels, count in re.findall(r'^flowtalk_http_requests_total\{((?:\w+="[^"]*",?)*)\} (\d+)', requests.get(f"{base}/metrics", timeout=5).text, re.M):
                label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
                statuses = seen.setdefault((label["method"], label["route"]), {})
                statuses[label["status"]] = statuses.get(label["status"], 0) + int(count)
        lines, silent = [], []
        for operation_id, (method, route) in sorted(self.operations.items(), key=lambda item: (item[1][1], item[1][0])):
            statuses = seen.get((method, route), {})
            lines.append(f"{method:6} {route:34} " + " ".join(f"{code}×{n}" for code, n in sorted(statuses.items())))
            if not any(code.startswith("2") for code in statuses):
                silent.append(operation_id)
        (self.out / "answers.txt").write_text("\n".join(lines) + "\n")
        print("\n".join("      " + line for line in lines))
        total = sum(sum(statuses.values()) for statuses in seen.values())
        self.record(f"every documented operation answered 2xx at least once ({total} requests in all)", not silent,
                    f"never a success: {', '.join(silent)}")

    def last(self):
        self.schemathesis("last", LAST, self.args.auth, self.a["cookie"], "192.0.2.12", self.args.examples)


def _cookie(response):
    """The session cookie a response sets (schemathesis' response keeps headers as lists)."""
    for header in response.headers.get("set-cookie", []):
        found = re.match(r"ft_session=([^;]*)", header)
        if found and found[1]:
            return found[1]
    raise RuntimeError("no session cookie in the answer")


def _short(error):
    text = str(error).strip()
    return re.sub(r"\s+", " ", text)[:1500]


def main():
    parser = argparse.ArgumentParser()
    for name in ("spec", "auth", "analytics", "sandbox", "ig", "out"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    run = Run(parser.parse_args())
    for phase in (run.setup, run.fuzz, run.paths, run.last):
        try:
            phase()
        except Exception as error:  # a phase that cannot go on: record it, and go on with the next
            run.record(f"{phase.__name__}: stopped", False, _short(error))
    try:
        run.answers()
    except Exception as error:
        run.record("answers: stopped", False, _short(error))
    missing = sorted(set(run.operations) - run.exercised)
    run.record(f"every documented operation exercised ({len(run.exercised & set(run.operations))} of {len(run.operations)})",
               not missing, f"never exercised: {', '.join(missing)}")
    passed = sum(1 for _, ok, _ in run.results if ok)
    failed = len(run.results) - passed
    print(f"openapi-check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
