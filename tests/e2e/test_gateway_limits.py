"""The gateway under pressure: login throttling kept in Redis, the time
budget under many concurrent clients, and a /healthz that polling cannot
turn into broker load (docs/graphql.md, "Limits")."""
import json
import time
import uuid

import eventlet
import pytest
import redis
import requests

from tests.e2e.conftest import start_gateway
from tests.integration.helpers import VERIFICATION, mail_to, token_from, wait_for

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { __typename } }"
VERIFY = "mutation($t: String!) { verifyEmail(token: $t) { ok } }"
PASSWORD = "a long passphrase nobody guesses"


def post(url, query, variables=None, session=None):
    resp = (session or requests).post(url + "/graphql", json={"query": query, "variables": variables or {}},
                                      timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def codes(body):
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def register(url, email):
    body = post(url, REGISTER, {"i": {"email": email, "password": PASSWORD, "firstName": "Ada",
                                      "lastName": "Lovelace", "role": "STUDENT"}})
    assert "errors" not in body, body
    # Signing in needs the address confirmed with the link identity mailed to it.
    body = post(url, VERIFY, {"t": token_from(mail_to(email, VERIFICATION))})
    assert "errors" not in body, body


def login(url, email, password):
    return post(url, LOGIN, {"e": email, "p": password})


class Throttled:
    """Two gateway processes with the default login limits (the rest of the
    suite lifts the per-client ones), sharing one Redis prefix of their own."""

    def __init__(self, platform):
        self.platform = platform
        self.prefix = "edtech:limits-{}:".format(uuid.uuid4().hex[:8])
        self.env = dict(GATEWAY_THROTTLE_PREFIX=self.prefix, GATEWAY_LOGIN_FREE_PER_ACCOUNT="3",
                        GATEWAY_LOGIN_FREE_PER_CLIENT="20", GATEWAY_CREDENTIAL_CALLS_PER_MINUTE="60")
        self.a = self.start("gateway-throttle-a")
        self.b = self.start("gateway-throttle-b")

    def start(self, name):
        return start_gateway(self.platform, name, **self.env)

    def close(self):
        self.platform.stop("gateway-throttle-a", "gateway-throttle-b")
        store = redis.Redis()
        for key in store.scan_iter(self.prefix + "*"):
            store.delete(key)


@pytest.fixture(scope="module")
def throttled(platform):
    gateways = Throttled(platform)
    yield gateways
    gateways.close()


def test_guessing_one_password_backs_off_and_the_owner_gets_back_in(throttled):
    a, b = throttled.a, throttled.b
    email = "guessed-{}@example.com".format(uuid.uuid4().hex[:8])
    register(a, email)
    answers = [codes(login(a, email, "wrong guess {}".format(n))) for n in range(4)]
    assert answers == [["UNAUTHENTICATED"]] * 4  # three free, the fourth answered and starts a 1 s lock
    limited = login(a, email, PASSWORD)  # the right password too, while the lock holds
    assert codes(limited) == ["RATE_LIMITED"]
    assert limited["errors"][0]["extensions"]["retryAfter"] >= 1
    assert "this account" in limited["errors"][0]["message"]
    # The other gateway process sees the same lock: it lives in Redis, not in a worker.
    # Case and spaces do not make a new account key.
    assert codes(login(b, " " + email.upper(), PASSWORD)) == ["RATE_LIMITED"]
    time.sleep(limited["errors"][0]["extensions"]["retryAfter"] + 0.2)
    assert "errors" not in login(b, email, PASSWORD)
    # Success forgave the count: wrong guesses start from nothing again.
    assert codes(login(a, email, "wrong again")) == ["UNAUTHENTICATED"]


def test_a_burst_of_parallel_guesses_is_counted_before_it_is_answered(throttled):
    a = throttled.a
    email = "burst-{}@example.com".format(uuid.uuid4().hex[:8])
    register(a, email)
    pool = eventlet.GreenPool(20)
    answers = list(pool.imap(lambda n: codes(login(a, email, "guess {}".format(n))), range(20)))
    # 3 free attempts and the one that sets the lock reach identity; the rest are refused unchecked.
    assert sorted(c[0] for c in answers).count("UNAUTHENTICATED") == 4, answers
    assert sorted(c[0] for c in answers).count("RATE_LIMITED") == 16, answers


def test_the_count_survives_a_gateway_restart(platform, throttled):
    email = "restart-{}@example.com".format(uuid.uuid4().hex[:8])
    for n in range(4):
        login(throttled.a, email, "guess {}".format(n))  # no such account: counted all the same
    platform.stop("gateway-throttle-a")
    throttled.a = throttled.start("gateway-throttle-a")
    # The 1 s lock may have run out during the restart; once it has, the next
    # guess is answered and, being the fifth, locks for 2 s. A count that
    # started again from nothing would leave two more free guesses.
    wait_for(lambda: codes(login(throttled.a, email, "guess 5")) == ["UNAUTHENTICATED"], timeout=10,
             message="the first lock to run out")
    body = login(throttled.a, email, "guess 6")
    assert codes(body) == ["RATE_LIMITED"] and body["errors"][0]["extensions"]["retryAfter"] == 2, body


def test_many_accounts_from_one_address_hit_the_client_limit(throttled):
    b = throttled.b
    answers = []
    for n in range(30):
        answers.append(codes(login(b, "nobody-{}-{}@example.com".format(n, uuid.uuid4().hex[:6]), "guess")))
    limited = [n for n, c in enumerate(answers) if c == ["RATE_LIMITED"]]
    assert limited and limited[0] <= 22, answers  # 20 free for the address, then backoff
    body = login(b, "someone-else-{}@example.com".format(uuid.uuid4().hex[:6]), "guess")
    assert codes(body) == ["RATE_LIMITED"] and "this address" in body["errors"][0]["message"]


def test_credential_mutations_are_capped_per_address(platform):
    url = start_gateway(platform, "gateway-window", GATEWAY_THROTTLE_PREFIX="edtech:window-{}:".format(
        uuid.uuid4().hex[:8]), GATEWAY_CREDENTIAL_CALLS_PER_MINUTE="5")
    try:
        answers = [codes(post(url, "mutation { refreshToken(refreshToken: \"nope\") { accessToken } }"))
                   for _ in range(7)]
        assert answers[:5] == [["UNAUTHENTICATED"]] * 5 and answers[5:] == [["RATE_LIMITED"]] * 2, answers
        # Reads are not credential calls and still answer.
        assert "errors" not in post(url, "{ __typename }")
    finally:
        platform.stop("gateway-window")


def test_over_budget_requests_answer_timeout_promptly_under_load(platform):
    """One pooled client and a 0.2 s budget, against 100 concurrent
    requests of a page of tutors: most must wait for the client,
    and each must give up when its budget is spent instead of queueing on."""
    budget = 0.2
    url = start_gateway(platform, "gateway-busy", GATEWAY_RPC_POOL_SIZE="1", GATEWAY_TIME_BUDGET=str(budget))
    page = "{ tutors(first: 20) { edges { node { hourlyRate courses { title } availability { timezone } } } } }"
    http = requests.Session()

    def one(_):
        started = time.monotonic()
        body = post(url, page, session=http)
        return time.monotonic() - started, codes(body)

    try:
        results = list(eventlet.GreenPool(100).imap(one, range(100)))
    finally:
        platform.stop("gateway-busy")
    slowest = max(elapsed for elapsed, _ in results)
    outcomes = {tuple(sorted(set(c))) for _, c in results}
    assert outcomes <= {(), ("TIMEOUT",)}, outcomes
    assert ("TIMEOUT",) in outcomes  # the load did exceed the budget
    # Answered once the budget ran out, plus the time to serve 80 requests'
    # Python on one worker.
    assert slowest < budget + 2.5, slowest


def test_healthz_polls_share_one_round_of_rpcs(gateway):
    http = requests.Session()
    reports = [http.get(gateway.url + "/healthz", timeout=30).json() for _ in range(25)]
    assert len({r["checked_at"] for r in reports}) <= 2  # 25 polls within the 2 s the report is kept
    assert all(r["stores"]["throttle"]["status"] == "ok" for r in reports)
    time.sleep(2.1)
    assert http.get(gateway.url + "/healthz", timeout=30).json()["checked_at"] != reports[-1]["checked_at"]


def test_requests_gunicorn_refuses_get_the_json_error_shape(gateway):
    long_url = gateway.url + "/graphql?query=" + "x" * 5000
    resp = requests.get(long_url, timeout=10)
    assert resp.status_code == 414 and resp.headers["Content-Type"] == "application/json"
    assert codes(resp.json()) == ["URI_TOO_LONG"]
    resp = requests.post(gateway.url + "/graphql", json={"query": "{ __typename }"},
                         headers={"X-Padding": "y" * 9000}, timeout=10)
    assert resp.status_code == 431 and codes(resp.json()) == ["HEADERS_TOO_LARGE"]
    resp = requests.post(gateway.url + "/graphql", json={"query": "{ __typename }"},
                         headers={"X-H{}".format(n): "1" for n in range(120)}, timeout=10)
    assert resp.status_code == 431 and codes(resp.json()) == ["HEADERS_TOO_LARGE"]
    resp = requests.get(gateway.url + "/nowhere", timeout=10)
    assert resp.status_code == 404 and codes(resp.json()) == ["NOT_FOUND"]
    resp = requests.delete(gateway.url + "/graphql", timeout=10)
    assert resp.status_code == 405 and codes(resp.json()) == ["METHOD_NOT_ALLOWED"]


AVAILABILITY_AMPLIFIER = "{ " + " ".join(
    "a{}: tutors(first: 100) {{ edges {{ node {{ availability {{ timezone slots {{ dayOfWeek }} }} }} }} }}".format(i)
    for i in range(15)) + " }"


def test_pages_times_aliases_are_refused_before_any_rpc(gateway):
    """The issue's amplification case: 15 aliases of a 100-tutor page with
    availability, 1.4 KB. Batching made it 30 RPCs, not 1,500; the estimated
    result (15 x 100 x 6 values) is still refused up front, with no RPC."""
    resp = gateway.post(AVAILABILITY_AMPLIFIER)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COSTLY"], body
    assert "9,015" in body["errors"][0]["message"] and "first" in body["errors"][0]["message"]
    assert "X-RPC-Calls" not in resp.headers or json.loads(resp.headers["X-RPC-Calls"]) == {}
    # A page size given in a variable counts as the largest page, as its value is not read here.
    per_page = "query($f: Int) { " + AVAILABILITY_AMPLIFIER[2:].replace("first: 100", "first: $f")
    assert [e["extensions"]["code"] for e in gateway.post(per_page, {"f": 1}).json()["errors"]] == ["QUERY_TOO_COSTLY"]
    # One full page is well within the limit.
    one = "{ tutors(first: 100) { edges { node { availability { timezone slots { dayOfWeek } } } } } }"
    assert "errors" not in gateway.post(one).json()
