"""Schema-driven fuzzing of ``/graphql`` against the real gateway, services,
RabbitMQ and PostgreSQL.

What it generates: operations built by hypothesis-graphql from the schema
the running gateway reports by introspection: queries and mutations, valid
ones and (one in six) ones with a single schema violation (``Mode.NEGATIVE``).
Arguments are filled by strategies given per scalar: ``String`` and ``ID``
mix sensible values (currencies, time zones, ISO times, the ids of real
users, a course and a lesson made by the fixtures) with nasty ones (NUL,
trailing newlines, strings past the services' 10,000-character limit or the
body limit, right-to-left marks, emoji); ``Int`` reaches the edges of 32 bits;
``GenericScalar``, the schema's one custom scalar, gets nested literals with
huge, tiny and negative-zero floats. Each document is then reshaped: some
fields get ``@include``/``@skip``; each argument may stay inline, be dropped
(when nullable) or become a variable whose JSON value is drawn from its
declared type (the only way lone surrogates such as ``"\\ud800"``, which a
GraphQL literal cannot hold, and deep or odd JSON reach the resolvers), at
times with the inline value as its default and sent as an explicit null; a
root field may be asked twice under aliases; selections may move into named
fragments; the operation may be named, stand beside a second one, and come
with a matching, an unknown or a nasty ``operationName``. Some queries go as
GET. Bodies are encoded with ``json.dumps(ensure_ascii=True)``, so lone
surrogates travel as ``\\ud800`` escapes.

Each generated request is sent three times: anonymously, with a signed-in
student's token and with a signed-in tutor's token (users registered and
logged in through the gateway).

What it checks, for every response: the status is never 5xx; the body is
UTF-8 JSON (no ``NaN``/``Infinity``) holding ``data`` or ``errors``; every
error carries ``extensions.code``; none is ``INTERNAL_SERVER_ERROR``; and a
code that refuses the request as a whole (``GRAPHQL_VALIDATION_FAILED``,
``BAD_REQUEST``, ...) never comes with status 200. Refusals by the hardening
limits (docs/graphql.md, "Limits") and ``RATE_LIMITED`` are fine: they carry
codes. What it found is kept as fixed examples in
tests/e2e/test_public_edge.py.

The number of requests sent is printed (``-s``), written with status and
code counts to ``test-artifacts/fuzz-graphql.json`` and put in every
assertion message. Generation is derandomized (no example database), so a CI
run is reproducible. A gateway of its own (``gateway-fuzz``) keeps its log
apart, in ``test-artifacts/service-logs/gateway-fuzz.log``.
"""
import copy
import json
import os
import time
import uuid
from collections import Counter

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from tests.e2e.conftest import Gateway, start_gateway
from tests.integration.helpers import VERIFICATION, Db, mail_to, new_user, token_from, wait_for
from tests.integration.learning_fixtures import ALL_WEEK, midday_zone, soon

# 300 operations x 3 callers = 900 requests, about 20 s on a 2-core machine.
EXAMPLES = 300
CALLERS = ("anonymous", "student", "tutor")
SUMMARY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "test-artifacts", "fuzz-graphql.json")

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id role } } }"""

SENSIBLE = ["maths", "en", "EUR", "USD", "Europe/Paris", "Etc/GMT-3", "09:00", "17:30", "2031-01-01T10:00:00Z",
            "2031-01-01T10:00:00+02:00", "someone@example.com", "correct horse battery", "open", "requested"]
NASTY = ["", " ", "\x00", "a\x00b", "trailing\n", "\r\n", "\t", "\ufeff", "\u202e", "\U0001f393", "ünïcødé",
         "名前", "null", "NaN", "Infinity", "-1", "1e400", "2147483648", "99999999999999999999",
         "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59+00:00", "2031-02-30T10:00:00Z", "24:00", "Mars/Base",
         "USD\n", "../../etc/passwd", "' OR '1'='1", "%s%s%n", "{{7*7}}", "<script>alert(1)</script>", '"', "\\",
         "x" * 10_001, "y" * 60_000, "\u00e9" * 20_000,  # the last is 120 kB as \\u escapes: over the body limit
         "00000000-0000-0000-0000-000000000000"]
# A GraphQL string literal cannot hold these; only a variable brings them in.
SURROGATES = ["\ud800", "\udfff", "a\ud800b", "\ud83d", "tail\udc00"]
# Codes that refuse the request as a whole (docs/graphql.md, "Errors" and
# "Limits"): nothing ran, so they never come with 200.
REQUEST_CODES = {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST", "QUERY_TOO_DEEP",
                 "TOO_MANY_ALIASES", "QUERY_TOO_LARGE", "PAYLOAD_TOO_LARGE", "METHOD_NOT_ALLOWED"}
INTS = [0, 1, -1, 20, 100, 101, 5000, 100_000, 100_001, 2**31 - 1, -2**31]


def _text():
    return st.one_of(st.sampled_from(SENSIBLE + NASTY), st.text(max_size=30))


# Inline literals ----------------------------------------------------------

def literal_scalars(real_ids):
    """Strategies of value nodes for hypothesis-graphql's ``custom_scalars``;
    giving them for the built-in scalars too puts nasty values inline."""
    ids = st.one_of(st.sampled_from(real_ids), st.uuids().map(str), _text())
    generic = st.recursive(
        st.one_of(_text().map(nodes.String), st.integers().map(nodes.Int), st.booleans().map(nodes.Boolean),
                  st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
                  st.sampled_from(["1e400", "-1e400", "1e-400", "-0.0"]).map(
                      lambda v: graphql.FloatValueNode(value=v)),
                  st.just(nodes.Null)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(nodes.List),
            st.dictionaries(st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,8}", fullmatch=True), inner, max_size=3)
            .map(lambda d: nodes.Object([graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v)
                                         for k, v in d.items()]))),
        max_leaves=8)
    return {
        "String": _text().map(nodes.String),
        "ID": st.one_of(ids.map(nodes.String), st.integers(-1, 10**6).map(nodes.Int)),
        "Int": st.one_of(st.sampled_from(INTS), st.integers(-2**31, 2**31 - 1)).map(nodes.Int),
        "GenericScalar": generic,
    }


# Variables -----------------------------------------------------------------

def _nested(depth):
    value = "deep"
    for _ in range(depth):
        value = [value]
    return value


def any_json():
    keys = st.one_of(st.text(max_size=8), st.sampled_from(SURROGATES + ["\x00", "", "__proto__"]))
    leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
                       st.floats(allow_nan=False, allow_infinity=False), _text(), st.sampled_from(SURROGATES))
    return st.one_of(
        st.sampled_from([2**31, 2**53, -2**63, 1.5, "1", [], {}]),  # near misses for Int, ID, lists, objects
        st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                     max_leaves=10),
        st.integers(30, 70).map(_nested))  # past the services' 32 levels; past 64 the gateway refuses the body


def json_for(type_, real_ids):
    """A JSON value that fits a variable of ``type_`` (strings of any kind
    included); values that do not fit come from ``any_json``."""
    if isinstance(type_, graphql.GraphQLNonNull):
        return json_for(type_.of_type, real_ids)
    if isinstance(type_, graphql.GraphQLList):
        return st.lists(json_for(type_.of_type, real_ids), max_size=4)
    if isinstance(type_, graphql.GraphQLInputObjectType):
        required = {n: json_for(f.type, real_ids) for n, f in type_.fields.items()
                    if isinstance(f.type, graphql.GraphQLNonNull)}
        optional = {n: st.one_of(st.none(), json_for(f.type, real_ids)) for n, f in type_.fields.items()
                    if n not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(type_, graphql.GraphQLEnumType):
        return st.sampled_from(sorted(type_.values))
    strings = st.one_of(_text(), st.sampled_from(SURROGATES))
    return {
        "String": strings,
        "ID": st.one_of(st.sampled_from(real_ids), strings, st.integers(-1, 10**6)),
        "Int": st.one_of(st.sampled_from(INTS), st.integers(-2**31, 2**31 - 1)),
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "Boolean": st.booleans(),
    }.get(type_.name, any_json())


def lift_arguments(draw, schema, document, real_ids):
    """The document with each argument left inline, dropped (when nullable)
    or turned into a variable; returns ``(document, variables)``. A lifted
    argument's inline value may become the variable's default, and then the
    variable may be declared nullable even where the argument is not (the
    spec allows it) and be sent as an explicit null."""
    type_info = graphql.TypeInfo(schema)
    definitions, variables = [], {}

    class Lift(graphql.Visitor):
        def enter_argument(self, node, *_):
            arg = type_info.get_argument()
            if arg is None:
                return None
            how = draw(st.sampled_from(["inline", "inline", "variable", "variable", "drop"]))
            if how == "drop" and not isinstance(arg.type, graphql.GraphQLNonNull):
                return graphql.REMOVE
            if how != "variable":
                return None
            name = "v{}".format(len(definitions))
            var = graphql.VariableNode(name=graphql.NameNode(value=name))
            declared, default = arg.type, None
            if one_in(draw, 3):
                default = node.value
                if isinstance(declared, graphql.GraphQLNonNull) and draw(st.booleans()):
                    declared = declared.of_type
            definitions.append(graphql.VariableDefinitionNode(
                variable=var, type=graphql.parse_type(str(declared)), default_value=default, directives=()))
            if declared is not arg.type:  # a nullable stand-in for a non-null argument: try its null often
                sent = draw(st.sampled_from(["fitting", "null", "left out"]))
            else:
                sent = draw(st.sampled_from(["fitting"] * 20 + ["null", "left out", "anything"]))
            if sent == "fitting":
                variables[name] = draw(json_for(arg.type, real_ids))
            elif sent == "null":
                variables[name] = None
            elif sent == "anything":
                variables[name] = draw(any_json())
            return graphql.ArgumentNode(name=node.name, value=var)

    document = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Lift()))
    operation = document.definitions[0]
    return _with(document, _copy(operation, variable_definitions=tuple(definitions))), variables


def add_directives(draw, document):
    """``@include``/``@skip`` on some fields; their ``if`` may be lifted into a variable later."""
    class Directives(graphql.Visitor):
        def enter_field(self, node, *_):
            if not one_in(draw, 8):
                return None
            directive = graphql.DirectiveNode(
                name=graphql.NameNode(value=draw(st.sampled_from(["include", "skip"]))),
                arguments=(graphql.ArgumentNode(name=graphql.NameNode(value="if"),
                                                value=graphql.BooleanValueNode(value=draw(st.booleans()))),))
            return _copy(node, directives=tuple(node.directives or ()) + (directive,))

    return graphql.visit(document, Directives())


def add_alias(draw, document):
    """One root field asked twice under two aliases, now and then."""
    operation = document.definitions[0]
    selections = list(operation.selection_set.selections)
    if not one_in(draw, 4):
        return document
    field = draw(st.sampled_from(selections))
    twins = [_copy(field, alias=graphql.NameNode(value="a{}".format(i))) for i in range(2)]
    selections[selections.index(field):selections.index(field) + 1] = twins
    return _with(document, _copy(operation, selection_set=graphql.SelectionSetNode(selections=tuple(selections))))


def extract_fragments(draw, schema, document):
    """Some fields' selections moved into named fragments and spread back."""
    type_info = graphql.TypeInfo(schema)
    fragments = []

    class Extract(graphql.Visitor):
        def enter_field(self, node, *_):
            type_ = graphql.get_named_type(type_info.get_type())
            if node.selection_set is None or type_ is None or not one_in(draw, 6):
                return None
            name = graphql.NameNode(value="F{}".format(len(fragments)))
            fragments.append(graphql.FragmentDefinitionNode(
                name=name, type_condition=graphql.NamedTypeNode(name=graphql.NameNode(value=type_.name)),
                selection_set=node.selection_set, directives=(), variable_definitions=None))
            return _copy(node, selection_set=graphql.SelectionSetNode(
                selections=(graphql.FragmentSpreadNode(name=name, directives=()),)))

    document = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Extract()))
    return graphql.DocumentNode(definitions=tuple(document.definitions) + tuple(fragments))


def name_operations(draw, document):
    """The operation named or not, perhaps with a second one beside it, and
    the ``operationName`` to send (None: none): matching, unknown or nasty."""
    operation, rest = document.definitions[0], tuple(document.definitions[1:])
    naming = draw(st.sampled_from(["none"] * 6 + ["matching", "matching", "unknown", "nasty"]))
    second = one_in(draw, 8)
    if naming != "none" or second:
        operation = _copy(operation, name=graphql.NameNode(value="Fuzz"))
    if second:
        rest += (graphql.parse("query Other { __typename }").definitions[0],)
        naming = draw(st.sampled_from(["none", "matching", "other", "unknown"]))
    name = {"none": None, "matching": "Fuzz", "other": "Other", "unknown": "NoSuchOperation"}.get(
        naming, draw(st.sampled_from(SURROGATES + NASTY[:12])))
    return graphql.DocumentNode(definitions=(operation,) + rest), name


def one_in(draw, n):
    """True about one time in n, and False when shrinking. Hypothesis favours
    the first choice in composite strategies, so ``integers(0, n) == 0``
    comes up far more often than 1/n; here the first choice is False."""
    return draw(st.sampled_from([False] * (n - 1) + [True]))


def _copy(node, **changes):
    fresh = copy.copy(node)
    for key, value in changes.items():
        setattr(fresh, key, value)
    return fresh


def _with(document, operation):
    return graphql.DocumentNode(definitions=(operation,) + tuple(document.definitions[1:]))


def _document(document):
    return document  # print_ast for hypothesis-graphql: keep the AST, to change it before printing


def fuzz_requests(schema, real_ids):
    """A strategy of requests: (method, params) with query, variables and operationName."""
    scalars = literal_scalars(real_ids)
    positive = from_schema(schema, custom_scalars=scalars, print_ast=_document)
    negative = from_schema(schema, custom_scalars=scalars, mode=Mode.NEGATIVE, print_ast=_document)

    @st.composite
    def one(draw):
        document = draw(negative if one_in(draw, 6) else positive)
        document = add_directives(draw, document)
        document, variables = lift_arguments(draw, schema, document, real_ids)
        document = add_alias(draw, document)
        document = extract_fragments(draw, schema, document)
        document, operation_name = name_operations(draw, document)
        params = {"query": graphql.print_ast(document)}
        if variables or draw(st.booleans()):
            params["variables"] = variables
        if operation_name is not None:
            params["operationName"] = operation_name
        is_query = document.definitions[0].operation == graphql.OperationType.QUERY
        method = "GET" if is_query and one_in(draw, 3) and _encodable(params) else "POST"
        return method, params

    return one()


def _encodable(params):
    try:
        json.dumps(params, ensure_ascii=False).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


# Sending and checking ------------------------------------------------------------

class Fuzzer:
    def __init__(self, url):
        self.gateway = Gateway(url)
        self.sent = Counter()
        self.statuses = Counter()
        self.codes = Counter()
        self.started = time.monotonic()

    @property
    def total(self):
        return sum(self.sent.values())

    def send(self, method, params, who, token):
        headers = {"Authorization": "Bearer " + token} if token else {}
        url = self.gateway.url + "/graphql"
        if method == "GET":
            query = {"query": params["query"]}
            if "variables" in params:
                query["variables"] = json.dumps(params["variables"], ensure_ascii=True)
            if "operationName" in params:
                query["operationName"] = params["operationName"]
            resp = self.gateway.http.get(url, params=query, headers=headers, timeout=30)
        else:
            body = json.dumps(params, ensure_ascii=True, allow_nan=False).encode("ascii")
            resp = self.gateway.http.post(url, data=body, timeout=30,
                                          headers=dict(headers, **{"Content-Type": "application/json"}))
        self.sent[who] += 1
        self.statuses[resp.status_code] += 1
        return resp

    def problems(self, resp):
        """What is wrong with one response, as a list of sentences (empty: fine)."""
        found = []
        if resp.status_code >= 500:
            found.append("HTTP {}".format(resp.status_code))
        try:
            body = json.loads(resp.content.decode("utf-8"), parse_constant=_no_constant)
        except ValueError as exc:
            return found + ["the body is not JSON ({}): {!r}".format(exc, resp.content[:300])]
        if not isinstance(body, dict) or not ({"data", "errors"} & set(body)):
            return found + ["the body is not a GraphQL response: {!r}".format(body)[:300]]
        errors = body.get("errors", [])
        if not isinstance(errors, list):
            return found + ["errors is not a list: {!r}".format(errors)[:300]]
        for error in errors:
            code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
            self.codes[code] += 1
            if not isinstance(code, str) or not code:
                found.append("an error without extensions.code: {!r}".format(error)[:300])
            elif code == "INTERNAL_SERVER_ERROR":
                found.append("INTERNAL_SERVER_ERROR: {!r}".format(error)[:300])
            elif code in REQUEST_CODES and resp.status_code == 200:
                found.append("HTTP 200 with {}, which docs/graphql.md answers with 4xx: {!r}".format(
                    code, error)[:300])
        return found

    def summary(self):
        return {"requests": self.total, "by_caller": dict(self.sent),
                "by_status": {str(k): v for k, v in sorted(self.statuses.items())},
                "error_codes": {str(k): v for k, v in self.codes.most_common()},
                "seconds": round(time.monotonic() - self.started, 1)}


def _no_constant(name):
    raise ValueError("{} is not JSON".format(name))


# Fixtures -------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_gateway(platform):
    # Its own throttle keys: the fuzzer's failed sign-ins lock no one else's account.
    url = start_gateway(platform, "gateway-fuzz",
                        GATEWAY_THROTTLE_PREFIX=os.environ.get("GATEWAY_THROTTLE_PREFIX", "edtech:throttle:") + "fuzz:")
    yield url
    platform.stop("gateway-fuzz")


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_gateway):
    """The schema as a client sees it: by introspection of the running gateway."""
    result = Gateway(fuzz_gateway).data(graphql.get_introspection_query())
    return graphql.build_client_schema(result)


def sign_in(gateway, schema, role):
    """A new user of ``role``, registered and logged in through the gateway:
    ``(user id, access token)``. The id comes from ``login``, and register's
    answer is only checked for errors, so this works whether ``register``
    returns the user or a payload without one."""
    user = new_user(role=role)
    returns = graphql.get_named_type(schema.mutation_type.fields["register"].type)
    selection = " { __typename }" if graphql.is_composite_type(returns) else ""
    gateway.data("mutation($input: RegisterInput!) { register(input: $input)" + selection + " }",
                 {"input": dict(email=user["email"], password=user["password"], firstName=user["first_name"],
                                lastName=user["last_name"], role=role.upper())})
    gateway.data("mutation($t: String!) { verifyEmail(token: $t) { ok } }",  # the link identity mailed
                 {"t": token_from(mail_to(user["email"], VERIFICATION))})
    session = gateway.data(LOGIN, {"e": user["email"], "p": user["password"]})["login"]
    return session["user"]["id"], session["accessToken"]


@pytest.fixture(scope="module")
def callers(fuzz_gateway, fuzz_schema, databases):
    """Tokens for each caller, and real ids for the fuzzer to aim at: a tutor
    with a profile, availability and a course, and a student with a lesson
    booked on it."""
    gateway = Gateway(fuzz_gateway)
    learning_db = Db(databases["learning"].url)
    student_id, student = sign_in(gateway, fuzz_schema, "student")
    tutor_id, tutor = sign_in(gateway, fuzz_schema, "tutor")
    for table, user_id in (("students", student_id), ("tutors", tutor_id)):
        wait_for(lambda: learning_db.scalar("SELECT count(*) FROM {} WHERE user_id = :u".format(table), u=user_id),
                 message="learning's copy in " + table)
    gateway.data("""mutation($i: TutorProfileInput!) { setTutorProfile(input: $i) { id } }""",
                 {"i": {"hourlyRate": 4000, "currency": "EUR", "subjects": ["maths"], "languages": ["en"],
                        "timezone": midday_zone()}}, tutor)
    gateway.data("""mutation($s: [SlotInput!]!) { setAvailability(slots: $s) { timezone } }""",
                 {"s": [{"dayOfWeek": s["day_of_week"], "startTime": s["start_time"], "endTime": s["end_time"]}
                        for s in ALL_WEEK["slots"]]}, tutor)
    course_id = gateway.data("""mutation($i: CourseInput!) { createCourse(input: $i) { id } }""",
                             {"i": {"title": "Fuzzing", "price": 4000, "duration": 30}}, tutor)["createCourse"]["id"]
    lesson_id = gateway.data("""mutation($c: ID!, $t: String!) { bookLesson(courseId: $c, scheduledAt: $t) { id } }""",
                             {"c": course_id, "t": soon(3600).isoformat()}, student)["bookLesson"]["id"]
    return {"tokens": {"anonymous": None, "student": student, "tutor": tutor},
            "ids": [student_id, tutor_id, course_id, lesson_id, str(uuid.uuid4())]}


# The property ----------------------------------------------------------------

def test_fuzzed_operations_never_fail_inside_the_gateway(fuzz_gateway, fuzz_schema, callers):
    fuzzer = Fuzzer(fuzz_gateway)
    operations = fuzz_requests(fuzz_schema, callers["ids"])

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much, HealthCheck.large_base_example])
    @given(operations)
    def each_copy(request):
        method, params = request
        note("{} {}".format(method, json.dumps(params, ensure_ascii=True)[:3000]))
        for who in CALLERS:
            resp = fuzzer.send(method, params, who, callers["tokens"][who])
            found = fuzzer.problems(resp)
            assert not found, "{} as {}: {} (after {} requests)".format(method, who, found, fuzzer.total)

    try:
        each_copy()
    finally:
        summary = fuzzer.summary()
        os.makedirs(os.path.dirname(SUMMARY), exist_ok=True)
        with open(SUMMARY, "w") as out:
            json.dump(summary, out, indent=2, sort_keys=True)
        print("\nGraphQL fuzzing: {} requests in {} s; statuses {}; codes {}".format(
            summary["requests"], summary["seconds"], summary["by_status"], summary["error_codes"]))
    # the count is part of the result: a run that sent too few proves little
    assert fuzzer.total >= EXAMPLES * len(CALLERS), "only {} requests were sent".format(fuzzer.total)
