"""The gateway's Flask app: ``/graphql`` (POST and GET, GraphiQL in a
browser), ``/stream`` (live updates, api_gateway/live.py),
``/invoices/<id>.pdf`` and ``/healthz``."""
import base64
import json
import logging
import re
import uuid

import jwt
from flask import Flask, Response, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix
from graphql import (GraphQLError, NoSchemaIntrospectionCustomRule, OperationType, execute, get_operation_ast,
                     parse, specified_rules, validate)
from graphql.execution.values import get_variable_values

from api_gateway.errors import format_error, request_error
from api_gateway.health import HealthReport
from api_gateway.live import Closing, Hub, StreamsFull, events as stream_events, parse_position
from api_gateway.limits import alias_limit_rule, document_limits_rule, paged_fields
from api_gateway.loaders import Loaders
from api_gateway.operations import no_operation_message, nulls_where_required
from api_gateway.rpc import BudgetExceeded, RequestRpc, RpcPool, ServiceUnavailable, TooManyRpcs
from api_gateway.schema import registry, schema
from api_gateway.schema.context import RequestContext
from api_gateway.settings import load_settings
from api_gateway.throttle import Throttle
from services.common.auth import public_keys, verify_token
from services.common.config import SERVICES, amqp_ssl
from services.common.errors import BadInput, Forbidden, NotFound, Unauthenticated

log = logging.getLogger(__name__)


def create_app(settings=None):
    settings = settings or load_settings()
    # The viewer comes from verify_token: without the public keys
    # (AUTH_PUBLIC_KEYS) the gateway does not start, rather than refuse every token.
    public_keys()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    pool = RpcPool(settings.amqp_uri, settings.rpc_pool_size, settings.rpc_timeout)
    throttle = Throttle(settings.redis_url, settings.throttle_prefix, account_free=settings.login_free_per_account,
                        client_free=settings.login_free_per_client, max_lock_seconds=settings.login_max_lock,
                        per_minute=settings.credential_calls_per_minute)
    live = Hub(settings.amqp_uri, settings.max_streams, tls=amqp_ssl(settings.amqp_uri))
    app.extensions["live"] = live
    health = HealthReport(pool, SERVICES, settings.time_budget + settings.rpc_timeout * len(SERVICES),
                          ttl=settings.health_ttl, extra_checks={"throttle": throttle.health})
    if settings.proxy_hops:
        # Behind a load balancer every request comes from its address; the
        # throttle must key on the client it forwards for.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)
    rules = [*specified_rules, document_limits_rule(settings.max_depth, settings.max_fields, settings.max_cost,
                                                    paged_fields(schema.graphql_schema)),
             alias_limit_rule(settings.max_aliases)]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)

    def respond(body, status=200, rpc=None):
        resp = Response(json.dumps(body), status=status, mimetype="application/json")
        if rpc is not None and settings.expose_rpc_stats:
            resp.headers["X-RPC-Calls"] = json.dumps(dict(rpc.calls), sort_keys=True)
        return resp

    def errors(status, message, code):
        return respond({"errors": [request_error(message, code)]}, status)

    @app.errorhandler(413)
    def too_large(_):
        return errors(413, "the request body is larger than {} bytes".format(settings.max_body_bytes),
                      "PAYLOAD_TOO_LARGE")

    @app.errorhandler(Exception)
    def unexpected(exc):
        code = getattr(exc, "code", 500)
        if isinstance(code, int) and 400 <= code < 500:
            return errors(code, getattr(exc, "description", "bad request"), HTTP_CODES.get(code, "BAD_REQUEST"))
        log.exception("unexpected error")
        return errors(500, "internal error", "INTERNAL_SERVER_ERROR")

    @app.get("/healthz")
    def healthz():
        report, ok = health.current()
        return respond(report, 200 if ok else 503)

    @app.get("/payouts/onboarding/<outcome>")
    def payout_onboarding(outcome):
        """Where Stripe's onboarding sends a tutor back (PAYOUT_ONBOARDING_RETURN_URL
        and _REFRESH_URL in config/payment.yaml, docs/payments.md): a page
        that says what happens next, for whoever opens it."""
        if outcome not in ("done", "expired"):
            return errors(404, "no such page", "NOT_FOUND")
        return Response(render_template("payout_onboarding.html", done=outcome == "done"), mimetype="text/html")

    @app.get("/invoices/<invoice_id>.pdf")
    def invoice_pdf(invoice_id):
        """An invoice as a PDF download (Invoice.downloadUrl), for its
        student or an admin, with the same bearer token as /graphql.
        Another's invoice is not found, as an unknown one: its number tells
        nothing. Every refusal is JSON, in /graphql's shape."""
        try:
            uuid.UUID(invoice_id)
        except ValueError:  # cannot be an invoice: no such path, whoever asks
            return errors(404, "no such invoice", "NOT_FOUND")
        token = _bearer(request.headers.get("Authorization"))
        if not token:
            return errors(401, "sign in first: send Authorization: Bearer <access token>", "UNAUTHENTICATED")
        try:
            verify_token(token)
        except Unauthenticated as exc:
            return errors(401, exc.message, "UNAUTHENTICATED")
        # An invoice not drawn yet in the background is drawn now, which
        # takes longer than a query: its own timeout (GATEWAY_DOWNLOAD_TIMEOUT).
        rpc = RequestRpc(pool, settings.download_timeout, settings.max_rpcs)
        try:
            answer = rpc.call_within(settings.download_timeout, "payment", "invoice_pdf", token, invoice_id)
        except Unauthenticated as exc:  # a session ended since the token was issued
            return errors(401, exc.message, "UNAUTHENTICATED")
        except (NotFound, BadInput, Forbidden):
            return errors(404, "no such invoice", "NOT_FOUND")
        except (ServiceUnavailable, BudgetExceeded, TooManyRpcs) as exc:
            return errors(503, str(exc), exc.code)
        resp = Response(base64.b64decode(answer["pdf"]), status=200, mimetype="application/pdf")
        resp.headers["Content-Disposition"] = 'attachment; filename="{}"'.format(_safe_filename(answer["filename"]))
        resp.headers["Cache-Control"] = "private, no-store"
        if settings.expose_rpc_stats:
            resp.headers["X-RPC-Calls"] = json.dumps(dict(rpc.calls), sort_keys=True)
        return resp

    @app.get("/stream")
    def stream():
        """The caller's new messages and notifications as server-sent events
        (docs/graphql.md, "Live updates"), with the same bearer token as
        /graphql. Every refusal is JSON, in /graphql's shape."""
        token = _bearer(request.headers.get("Authorization"))
        if not token:
            return errors(401, "sign in first: send Authorization: Bearer <access token>", "UNAUTHENTICATED")
        try:
            who = verify_token(token)
        except Unauthenticated as exc:
            return errors(401, exc.message, "UNAUTHENTICATED")
        if who.user_id is None:
            return errors(401, "a user's access token is required", "UNAUTHENTICATED")
        try:
            after = parse_position(request.headers.get("Last-Event-ID"))
            if after is None:
                after = parse_position(request.args.get("after"))
        except ValueError as exc:
            return errors(400, "Last-Event-ID or after {}".format(exc), "BAD_REQUEST")
        expires_at = _expires_at(token)
        try:
            waiter = live.open(who.user_id)  # given back by body.close, whatever ends the response
        except StreamsFull as exc:
            resp = errors(503, "{}; try again shortly".format(exc), "SERVICE_UNAVAILABLE")
            resp.headers["Retry-After"] = "5"
            return resp

        def fetch(position, limit):
            # a fresh budget for each read: a stream lives far longer than one request
            return RequestRpc(pool, settings.time_budget).call("communication", "activity_since", token,
                                                               position, limit)

        body = Closing(stream_events(fetch, waiter, after, expires_at, heartbeat=settings.stream_heartbeat,
                                     ready=live.wait_ready), lambda: live.close(waiter))
        resp = Response(body, status=200, mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
        return resp

    @app.route("/graphql", methods=["GET", "POST"])
    def graphql():
        if request.method == "GET" and "query" not in request.args and \
                request.accept_mimetypes.accept_html:
            return render_template("graphiql.html")
        params = _params()
        if isinstance(params, Response):
            return params
        query, variables, operation_name = params
        try:
            document = parse(query, max_tokens=settings.max_tokens)
        except GraphQLError as exc:
            code = "QUERY_TOO_LARGE" if "more than {} tokens".format(settings.max_tokens) in exc.message \
                else "GRAPHQL_PARSE_FAILED"
            return respond({"errors": [request_error(exc.message, code)]}, 400)
        problems = validate(schema.graphql_schema, document, rules)
        if problems:
            return respond({"errors": [format_error(e) for e in problems]}, 400)
        operation = get_operation_ast(document, operation_name)
        if operation is None:  # the request is wrong, as an invalid document is: 400, not execute()'s 200
            return errors(400, no_operation_message(document, operation_name), "BAD_REQUEST")
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            return errors(405, "mutations must be sent with POST", "METHOD_NOT_ALLOWED")
        # Variables are checked against their declared types here, as
        # inline values are by validate(): a wrong one is the caller's
        # mistake (400, BAD_USER_INPUT, naming the variable), not an
        # error inside execute().
        coerced = get_variable_values(schema.graphql_schema, operation.variable_definitions or (),
                                      variables or {}, max_errors=MAX_VARIABLE_ERRORS)
        if isinstance(coerced, list):
            return respond({"errors": [_bad_variable(e) for e in coerced]}, 400)
        nulls = nulls_where_required(schema.graphql_schema, document, operation, coerced)
        if nulls:
            return respond({"errors": [_bad_variable(e) for e in nulls]}, 400)
        context, rpc = _context()
        result = execute(schema.graphql_schema, document, context_value=context,
                         variable_values=variables, operation_name=operation_name)
        body = {"data": result.data}
        if result.errors:
            body["errors"] = [format_error(e) for e in result.errors]
        return respond(body, 200, rpc)

    def _params():
        if request.method == "GET":
            data = request.args
            raw_vars = data.get("variables")
            if raw_vars and json_depth(raw_vars) > MAX_JSON_DEPTH:
                return errors(400, "variables are nested more than {} levels deep".format(MAX_JSON_DEPTH),
                              "BAD_REQUEST")
            try:
                variables = json.loads(raw_vars) if raw_vars else None
            except ValueError:
                return errors(400, "variables must be a JSON object", "BAD_REQUEST")
        else:
            if json_depth(request.get_data(as_text=True)) > MAX_JSON_DEPTH:
                return errors(400, "the body is nested more than {} levels deep".format(MAX_JSON_DEPTH),
                              "BAD_REQUEST")
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                return errors(400, "the body must be a JSON object with a query", "BAD_REQUEST")
            variables = data.get("variables")
        query, operation_name = data.get("query"), data.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return errors(400, "query must be a non-empty string", "BAD_REQUEST")
        if variables is not None and not isinstance(variables, dict):
            return errors(400, "variables must be a JSON object", "BAD_REQUEST")
        if operation_name is not None and not isinstance(operation_name, str):
            return errors(400, "operationName must be a string", "BAD_REQUEST")
        return query, variables, operation_name

    def _context():
        token, viewer, token_error = _bearer(request.headers.get("Authorization")), None, None
        if token:
            try:
                viewer = verify_token(token)
            except Unauthenticated as exc:
                token_error = exc  # public fields still answer; private ones say why
        rpc = RequestRpc(pool, settings.time_budget, settings.max_rpcs)
        return RequestContext(rpc, Loaders(rpc, token, registry.LOADERS), token, viewer, token_error,
                              throttle, request.remote_addr or "unknown", base_url=request.host_url), rpc

    return app


# The code for each HTTP-level refusal Flask makes (docs/graphql.md, "Errors at the HTTP level").
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
MAX_VARIABLE_ERRORS = 20
# Python's JSON parser recurses once per level, so a body of 5,000 nested
# arrays ends in RecursionError; no real request comes near this depth.
MAX_JSON_DEPTH = 64


def json_depth(text):
    """The deepest nesting of ``[``/``{`` in a JSON text, strings skipped;
    one linear pass, before anything parses it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _bad_variable(error):
    formatted = error.formatted  # "Variable '$name' got invalid value ...", with its location
    formatted["extensions"] = {"code": "BAD_USER_INPUT"}
    return formatted


def _safe_filename(name):
    """A file name for a quoted Content-Disposition: letters, digits, ``.``, ``-`` and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "invoice.pdf"


def _expires_at(token):
    """When a token verify_token accepted expires (its ``exp``, epoch seconds)."""
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


def _bearer(header):
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else "malformed"
