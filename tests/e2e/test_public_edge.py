"""What the GraphQL fuzzing (tests/e2e/test_fuzz_graphql.py) found at the
public edge, kept as fixed examples against the real gateway: each answered
a caller's mistake as a 200 with a request-level code, or as an internal
error."""
import json

import pytest

MULTI = "query A { __typename } query B { tutors(first: 1) { pageInfo { hasNextPage } } }"


def send(gateway, body, method="POST"):
    """A raw request; ``ensure_ascii`` sends lone surrogates as escapes."""
    if method == "GET":
        return gateway.http.get(gateway.url + "/graphql", timeout=30, params={
            k: json.dumps(v) if k == "variables" else v for k, v in body.items()})
    return gateway.http.post(gateway.url + "/graphql", data=json.dumps(body, ensure_ascii=True), timeout=30,
                             headers={"Content-Type": "application/json"})


def only_error(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert "data" not in body, body  # refused before anything ran
    return body["errors"][0]["message"]


# Finding 1: an operationName that names no operation, or none for a document
# with several, was answered 200 {"data": null} with GRAPHQL_VALIDATION_FAILED.

NAMES_NOTHING = [
    ("{ __typename }", "NoSuchOperation"),
    ("query Fuzz { __typename }", "NoSuchOperation"),
    ("{ __typename }", ""),
    ("{ __typename }", "a\x00b"),
    (MULTI, "C"),
]
NAMES_NOTHING_CASES = [(d, n, m) for d, n in NAMES_NOTHING for m in ("POST", "GET")] + [
    ("{ __typename }", "\ud800", "POST"),  # a lone surrogate, as the fuzzer sent it (no URL can hold one)
]


@pytest.mark.parametrize("document,name,method", NAMES_NOTHING_CASES,
                         ids=["{}-{}".format(case, m) for case in ("anonymous", "named", "empty", "NUL", "several")
                              for m in ("POST", "GET")] + ["lone surrogate-POST"])
def test_an_operation_name_that_names_nothing_is_a_bad_request(gateway, document, name, method):
    message = only_error(send(gateway, {"query": document, "operationName": name}, method), 400, "BAD_REQUEST")
    assert message.startswith("operationName ") and "names no operation" in message, message


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_several_operations_need_an_operation_name(gateway, method):
    message = only_error(send(gateway, {"query": MULTI}, method), 400, "BAD_REQUEST")
    assert message == "the document has 2 operations (A, B): name the one to run in operationName"
    # named, the same document runs the one asked for
    resp = send(gateway, {"query": MULTI, "operationName": "B"}, method)
    assert resp.status_code == 200 and "errors" not in resp.json(), resp.text
    assert set(resp.json()["data"]) == {"tutors"}


# Finding 2: a variable declared with a default may stand where null is not
# allowed; sent as an explicit null it failed inside execute(): "internal
# error" (INTERNAL_SERVER_ERROR) for a field argument, and a 200 with
# GRAPHQL_VALIDATION_FAILED for @include on a root field.

NULL_WHERE_REQUIRED = [
    # the fuzzer's example, as it found it
    ("query ($v0: ID = 8400, $v1: ID!) { me { createdAt } course(id: $v0) { id } lesson(id: $v1) { id } }",
     {"v0": None, "v1": "Europe/Paris"}, "$v0", "ID!"),
    ("query ($v: ID = \"x\") { ...F } fragment F on Query { user(id: $v) { id } }", {"v": None}, "$v", "ID!"),
    ("query ($s: Boolean = true) { __typename @include(if: $s) }", {"s": None}, "$s", "Boolean!"),
    ("query ($s: Boolean = true) { tutors { edges @skip(if: $s) { cursor } } }", {"s": None}, "$s", "Boolean!"),
    ("mutation ($s: SlotInput = {dayOfWeek: 1, startTime: \"09:00\", endTime: \"10:00\"}) "
     "{ setAvailability(slots: [$s]) { timezone } }", {"s": None}, "$s", "SlotInput!"),
    ("mutation ($b: Int = 3000) { createMatchingRequest(input: {subject: \"maths\", budget: $b}) { id } }",
     {"b": None}, "$b", "Int!"),
]


@pytest.mark.parametrize("query,variables,named,type_", NULL_WHERE_REQUIRED,
                         ids=["argument", "in a fragment", "root @include", "nested @skip", "list item",
                              "input field"])
def test_a_null_variable_where_a_value_is_required_is_the_callers_mistake(gateway, query, variables, named,
                                                                          type_):
    message = only_error(send(gateway, {"query": query, "variables": variables}), 400, "BAD_USER_INPUT")
    assert message == "Variable '{}' is null, but it is used where a value of type '{}' is required.".format(
        named, type_)


def test_a_variable_left_out_takes_its_default_and_a_null_where_allowed_still_runs(gateway):
    # left out, the default stands in: the request runs
    resp = send(gateway, {"query": "query ($s: Boolean = true) { __typename @include(if: $s) }"})
    assert resp.status_code == 200 and resp.json() == {"data": {"__typename": "Query"}}, resp.text
    # null where null is allowed reaches the resolver, which explains itself (test_gateway.py)
    resp = send(gateway, {"query": "query ($f: Int = 5) { tutors(first: $f) { pageInfo { hasNextPage } } }",
                          "variables": {"f": None}})
    assert resp.status_code == 200, resp.text
    assert [e["extensions"]["code"] for e in resp.json()["errors"]] == ["BAD_USER_INPUT"]


# The bad-input examples found by probing the gateway, each sent as apps send it
# (in variables) through the real gateway: each is the caller's mistake,
# BAD_USER_INPUT naming the field, never an internal error or a 5xx.

SURROGATE = "\ud800"


@pytest.fixture(scope="module")
def edge_users(gateway, databases):
    from tests.e2e.test_gateway import signed_up
    from tests.integration.helpers import Db
    learning_db = Db(databases["learning"].url)
    _, student, _ = signed_up(gateway, learning_db, "student")
    _, tutor, _ = signed_up(gateway, learning_db, "tutor")
    course = gateway.data("""mutation($i: CourseInput!) { createCourse(input: $i) { id } }""",
                          {"i": {"title": "Edge cases", "price": 4000, "currency": "EUR", "duration": 30}},
                          tutor)["createCourse"]["id"]
    return {"student": student, "tutor": tutor, "anonymous": None, "course": course}


REGISTER_VARS = {"email": "edge-{}@example.com", "password": "a long passphrase nobody guesses",
                 "firstName": "Ada", "lastName": "Lovelace", "role": "STUDENT"}

BAD_INPUT = [
    ("register, a lone surrogate", "anonymous",
     "mutation($i: RegisterInput!) { register(input: $i) { ok } }",
     {"i": dict(REGISTER_VARS, firstName="Ada" + SURROGATE)}, "firstName"),
    ("updateMe, a lone surrogate", "student",
     "mutation($i: UpdateMeInput!) { updateMe(input: $i) { id } }", {"i": {"lastName": SURROGATE}}, "lastName"),
    ("createCourse, a lone surrogate", "tutor",
     "mutation($i: CourseInput!) { createCourse(input: $i) { id } }",
     {"i": {"title": "T" + SURROGATE, "price": 4000, "currency": "EUR", "duration": 30}}, "title"),
    ("tutors, a lone surrogate", "anonymous",
     "query($s: String) { tutors(subject: $s) { edges { cursor } } }", {"s": SURROGATE}, "subject"),
    ("refreshToken, a lone surrogate", "anonymous",
     "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", {"t": SURROGATE}, "refreshToken"),
    ("a currency with a trailing newline", "tutor",
     "mutation($i: TutorProfileInput!) { setTutorProfile(input: $i) { id } }",
     {"i": {"hourlyRate": 4000, "currency": "USD\n", "subjects": ["maths"], "languages": ["en"]}}, "currency"),
    ("a date far in the future", "student",
     "mutation($c: ID!, $t: String!) { bookLesson(courseId: $c, scheduledAt: $t) { id } }",
     {"c": "COURSE", "t": "9999-12-31T23:30:00Z"}, "scheduledAt"),
    ("a date before year 1 once in UTC", "student",
     "mutation($c: ID!, $t: String!) { bookLesson(courseId: $c, scheduledAt: $t) { id } }",
     {"c": "COURSE", "t": "0001-01-01T00:30:00+01:00"}, "scheduledAt"),
]


@pytest.mark.parametrize("who,query,variables,field", [case[1:] for case in BAD_INPUT],
                         ids=[case[0] for case in BAD_INPUT])
def test_the_issues_bad_input_is_the_callers_mistake(gateway, edge_users, who, query, variables, field):
    variables = json.loads(json.dumps(variables).replace("COURSE", edge_users["course"])
                           .replace("edge-{}", "edge-" + str(id(variables))))
    headers = {"Content-Type": "application/json"}
    if edge_users[who]:
        headers["Authorization"] = "Bearer " + edge_users[who]
    resp = gateway.http.post(gateway.url + "/graphql", timeout=30, headers=headers,
                             data=json.dumps({"query": query, "variables": variables}, ensure_ascii=True))
    assert resp.status_code < 500, resp.text
    errors = resp.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], errors
    named = errors[0]["extensions"].get("fields", {})
    assert field in named or field in errors[0]["message"], errors


def test_list_items_are_trimmed_before_they_are_stored(gateway, edge_users):
    """``languages: ["en\\n"]`` was stored as is; items are now trimmed, and
    repeats dropped, before they are checked and stored."""
    data = gateway.data("""mutation($i: TutorProfileInput!) { setTutorProfile(input: $i) { languages subjects } }""",
                        {"i": {"hourlyRate": 4000, "currency": "EUR", "subjects": [" maths ", "Maths"],
                               "languages": ["en\n"]}}, edge_users["tutor"])
    assert data["setTutorProfile"] == {"languages": ["en"], "subjects": ["maths"]}
