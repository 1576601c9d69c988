"""The Flask application: Stripe's wire format for the endpoints the platform uses.

docs/stripe-local.md describes the endpoints, the test payment methods and
the control endpoints under ``/_local``.
"""
import copy
import hashlib
import json
import secrets
import time
from functools import wraps

from flask import Flask, Response, redirect, request
from werkzeug.exceptions import HTTPException

from .forms import FormError, parse_form, parse_pairs
from .store import PLATFORM, StripeError, missing, new_id, now

MIN_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30}
MIN_AMOUNT_DEFAULT = 1
MAX_AMOUNT = 99999999
SYMBOL = {"usd": "$", "eur": "€", "gbp": "£"}
COUNTRY_CURRENCY = {"US": "usd", "GB": "gbp", "CA": "cad", "AU": "aud", "CH": "chf", "JP": "jpy"}
EURO_COUNTRIES = {"AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV",
                  "MT", "NL", "PT", "SI", "SK"}
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing")
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")

# Stripe's test PaymentMethods: (brand, last4, outcome); outcome None = succeeds.
TEST_CARDS = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_mastercard": ("mastercard", "4444", None),
    "pm_card_chargeDeclined": ("visa", "0002", ("card_declined", "generic_decline", "Your card was declined.")),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "visa", "9995", ("card_declined", "insufficient_funds", "Your card has insufficient funds.")),
    "pm_card_chargeDeclinedExpiredCard": ("visa", "0069", ("expired_card", "expired_card", "Your card has expired.")),
    "pm_card_authenticationRequired": ("visa", "3184", "authenticate"),
}


def _money(amount, currency):
    symbol = SYMBOL.get(currency)
    value = "{:.2f}".format(amount / 100)
    return symbol + value if symbol else "{} {}".format(value, currency.upper())


def _to_int(params, name, required=False, minimum=None):
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeError(400, "Missing required param: {}.".format(name), code="parameter_missing", param=name)
        return None
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise StripeError(400, "Invalid integer: {}".format(value), code="parameter_invalid_integer", param=name)
    number = int(value)
    if minimum is not None and number < minimum:
        raise StripeError(400, "This value must be greater than or equal to {}.".format(minimum),
                          code="parameter_invalid_integer", param=name)
    return number


def _to_bool(params, name, default=False):
    value = params.get(name)
    if value is None or value == "":
        return default
    if value not in ("true", "false"):
        raise StripeError(400, "Invalid boolean: {}".format(value), code="parameter_invalid_string", param=name)
    return value == "true"


def _to_str(params, name, required=False, choices=None):
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeError(400, "Missing required param: {}.".format(name), code="parameter_missing", param=name)
        return None
    if not isinstance(value, str):
        raise StripeError(400, "Invalid string: {}".format(name), code="parameter_invalid_string", param=name)
    if choices and value not in choices:
        raise StripeError(400, "Invalid {}: must be one of {}".format(name, ", ".join(choices)),
                          code="parameter_invalid_string", param=name)
    return value


def _metadata(params, current=None):
    value = params.get("metadata")
    result = dict(current or {})
    if value is None:
        return result
    if value == "":  # metadata= unsets all keys
        return {}
    if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
        raise StripeError(400, "Invalid object", code="parameter_invalid_empty", param="metadata")
    for key, item in value.items():
        if item == "":
            result.pop(key, None)
        else:
            result[key] = item
    return result


def _only(params, allowed):
    for name in params:
        if name not in allowed and name != "expand":
            raise StripeError(400, "Received unknown parameter: {}".format(name), code="parameter_unknown", param=name)


def _currency(params):
    value = _to_str(params, "currency", required=True).lower()
    if len(value) != 3 or not value.isalpha():
        raise StripeError(400, "Invalid currency: {}. Stripe currently supports these currencies: usd, eur, gbp, ..."
                          .format(value), code="parameter_invalid_string", param="currency")
    return value


def _list(url, data=()):
    return {"object": "list", "data": list(data), "has_more": False, "total_count": len(data), "url": url}


class StripeApp:
    def __init__(self, store, api_key, webhooks_enabled=True, payout_delay=2.0, link_ttl=300):
        self.store = store
        self.api_key = api_key
        self.webhooks_enabled = webhooks_enabled
        self.payout_delay = payout_delay
        self.link_ttl = link_ttl
        self.flask = Flask("stripe_server")
        self.flask.url_map.strict_slashes = False
        self._routes()

    # --- request plumbing --------------------------------------------------

    def _respond(self, status, body, headers=None):
        response = Response(json.dumps(body, indent=2), status=status, mimetype="application/json")
        response.headers["Request-Id"] = getattr(request, "stripe_request_id", "")
        response.headers["Stripe-Version"] = "2026-10-28.endive"
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _params(self):
        try:
            pairs = parse_pairs(request.query_string.decode("utf-8", "strict"))
        except UnicodeDecodeError:
            raise FormError("Invalid query string: not UTF-8") from None
        if request.method == "POST":
            raw = request.get_data(cache=True)
            if raw:
                ctype = (request.mimetype or "").lower()
                if ctype and ctype != "application/x-www-form-urlencoded":
                    raise StripeError(400, "Invalid request: unsupported Content-Type {}. Stripe's API takes "
                                      "application/x-www-form-urlencoded bodies.".format(ctype))
                try:
                    pairs += parse_pairs(raw.decode("utf-8", "strict"))
                except UnicodeDecodeError:
                    raise FormError("Invalid request body: not UTF-8") from None
        return parse_form(pairs)

    def _authenticate(self):
        header = request.headers.get("Authorization", "")
        if not header:
            raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                              "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip() or not secrets.compare_digest(key.strip(), self.api_key):
            shown = key.strip()[:8] + "*" * 8 if key.strip() else ""
            raise StripeError(401, "Invalid API Key provided: {}".format(shown), code="api_key_invalid")

    def _account_header(self, allowed):
        account = request.headers.get("Stripe-Account")
        if not account:
            return None
        if not allowed:
            raise StripeError(400, "This local Stripe server accepts the Stripe-Account header only on "
                              "/v1/balance and /v1/payouts.", param="Stripe-Account")
        obj = self.store.objects.get(account)
        if obj is None or obj["object"] != "account":
            raise StripeError(403, "The provided key '{}' does not have access to account '{}' (or that account "
                              "does not exist). Application access may have been revoked."
                              .format(self.api_key[:8] + "*" * 8, account), code="account_invalid")
        return account

    def _expand(self, obj, params):
        paths = params.get("expand") or []
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list):
            raise StripeError(400, "Invalid array", param="expand")
        if not paths:
            return obj
        obj = copy.deepcopy(obj)
        for path in paths:
            node, parts = obj, path.split(".")
            for i, part in enumerate(parts):
                if not isinstance(node, dict) or part not in node:
                    raise StripeError(400, "This property cannot be expanded ({}).".format(path), param="expand")
                value = node[part]
                if isinstance(value, str) and value in self.store.objects:
                    node[part] = copy.deepcopy(self.store.objects[value])
                elif value is not None and not isinstance(value, dict):
                    raise StripeError(400, "This property cannot be expanded ({}).".format(path), param="expand")
                node = node[part]
        return obj

    def api(self, rule, methods=("GET",), account_header=False, auth=True):
        """Route decorator: auth, params, idempotency, lock, save, Stripe-shaped answer."""

        def decorate(handler):
            @wraps(handler)
            def view(**kwargs):
                request.stripe_request_id = new_id("req", 14)
                try:
                    if auth:
                        self._authenticate()
                    params = self._params()
                    with self.store.lock:
                        account = self._account_header(account_header) if auth else None
                        if request.method != "POST":
                            return self._respond(200, self._expand(handler(params, account, **kwargs), params))
                        return self._mutate(handler, params, account, kwargs)
                except FormError as exc:
                    return self._respond(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})
                except StripeError as exc:
                    return self._respond(exc.status, {"error": exc.body})

            view.__name__ = "{}_{}".format(handler.__name__, "_".join(methods))
            self.flask.add_url_rule(rule, view_func=view, methods=list(methods))
            return handler

        return decorate

    def _mutate(self, handler, params, account, kwargs):
        key = request.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(json.dumps(
            [request.method, request.path, params], sort_keys=True).encode()).hexdigest()
        scope = "|".join((self.api_key, account or "", key or ""))
        if key:
            stored = self.store.idempotency.get(scope)
            if stored is not None:
                if stored["fingerprint"] != fingerprint:
                    raise StripeError(
                        400, "Keys for idempotent requests can only be used with the same parameters they were "
                        "first used with. Try using a key other than '{}' if you meant to execute a different "
                        "request.".format(key), type="idempotency_error")
                return self._respond(stored["status"], json.loads(stored["body"]),
                                     {"Idempotent-Replayed": "true", "Idempotency-Key": key})
        request.stripe_idempotency_key = key
        try:
            status, body = 200, self._expand(handler(params, account, **kwargs), params)
        except StripeError as exc:
            if exc.status != 402:  # validation and state errors are not kept: fix and retry with the key
                self.store.save()  # the handler may have changed state before refusing
                raise
            status, body = exc.status, {"error": exc.body}
        if key:
            self.store.idempotency[scope] = {"fingerprint": fingerprint, "status": status,
                                             "body": json.dumps(body), "created": now()}
        self.store.save()
        headers = {"Idempotency-Key": key} if key else {}
        return self._respond(status, body, headers)

    def _request_info(self):
        return {"id": getattr(request, "stripe_request_id", None),
                "idempotency_key": getattr(request, "stripe_idempotency_key", None)}

    def emit(self, type_, obj, account=None, previous=None, from_request=True):
        return self.store.emit(type_, obj, self._request_info() if from_request else None,
                               account=account, previous=previous, webhooks=self.webhooks_enabled)

    # --- routes --------------------------------------------------------------

    def _routes(self):
        app, api, store = self.flask, self.api, self.store

        @app.errorhandler(HTTPException)
        def http_error(exc):
            request.stripe_request_id = getattr(request, "stripe_request_id", new_id("req", 14))
            if exc.code in (404, 405):
                message = ("Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we can help "
                           "at https://support.stripe.com/.".format(request.method, request.path))
                return self._respond(404, {"error": {"type": "invalid_request_error", "message": message}})
            return self._respond(exc.code or 400, {"error": {"type": "invalid_request_error",
                                                             "message": exc.description}})

        @app.errorhandler(Exception)
        def crash(exc):
            app.logger.exception("unhandled error")
            request.stripe_request_id = getattr(request, "stripe_request_id", new_id("req", 14))
            return self._respond(500, {"error": {"type": "api_error", "message": "An unexpected error occurred "
                                                 "in the local Stripe server: {}".format(type(exc).__name__)}})

        @app.get("/_local/health")
        def health():
            return self._respond(200, {"status": "ok", "object": "health"})

        # Accounts ------------------------------------------------------------

        @api("/v1/accounts", methods=("POST",))
        def create_account(params, account):
            _only(params, {"type", "country", "email", "capabilities", "settings", "metadata", "business_type",
                           "business_profile", "default_currency"})
            type_ = _to_str(params, "type", required=True, choices=("express", "standard", "custom"))
            country = (_to_str(params, "country") or "US").upper()
            requested = params.get("capabilities") or {}
            if not isinstance(requested, dict):
                raise StripeError(400, "Invalid object", param="capabilities")
            capabilities = {}
            for name, spec in requested.items():
                if isinstance(spec, dict) and spec.get("requested") == "true":
                    capabilities[name] = "inactive"
            settings_in = params.get("settings") or {}
            schedule_in = ((settings_in.get("payouts") or {}).get("schedule") or {}) if isinstance(
                settings_in, dict) else {}
            interval = schedule_in.get("interval", "daily")
            if interval not in ("manual", "daily", "weekly", "monthly"):
                raise StripeError(400, "Invalid interval", param="settings[payouts][schedule][interval]")
            currency = (_to_str(params, "default_currency") or
                        ("eur" if country in EURO_COUNTRIES else COUNTRY_CURRENCY.get(country, "usd")))
            obj = {
                "id": new_id("acct", 16), "object": "account", "type": type_, "email": _to_str(params, "email"),
                "country": country, "default_currency": currency, "business_type": _to_str(params, "business_type"),
                "charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
                "capabilities": capabilities,
                "requirements": {"currently_due": ["external_account", "tos_acceptance.date"],
                                 "eventually_due": [], "past_due": [], "disabled_reason": "requirements.past_due"},
                "settings": {"payouts": {"schedule": {"interval": interval, "delay_days": 2},
                                         "debit_negative_balances": True, "statement_descriptor": None}},
                "metadata": _metadata(params), "created": now(), "livemode": False,
            }
            return store.put(obj)

        @api("/v1/accounts/<account_id>")
        def get_account(params, account, account_id):
            return store.get(account_id, "account")

        @api("/v1/account_links", methods=("POST",))
        def create_account_link(params, account):
            _only(params, {"account", "type", "refresh_url", "return_url", "collect", "collection_options"})
            account_id = _to_str(params, "account", required=True)
            store.get(account_id, "account", param="account")
            link_type = _to_str(params, "type", required=True, choices=("account_onboarding", "account_update"))
            refresh_url = _to_str(params, "refresh_url", required=True)
            return_url = _to_str(params, "return_url", required=True)
            token = secrets.token_urlsafe(24)
            created = now()
            store.links[token] = {"account": account_id, "type": link_type, "refresh_url": refresh_url,
                                  "return_url": return_url, "expires_at": created + self.link_ttl,
                                  "deadline": time.time() + self.link_ttl, "used": False}
            return {"object": "account_link", "created": created, "expires_at": created + self.link_ttl,
                    "url": "{}connect/onboarding/{}".format(request.host_url, token)}

        @app.get("/connect/onboarding/<token>")
        def onboarding_page(token):
            with store.lock:
                link = store.links.get(token)
                if link is None:
                    return self._respond(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                                         "message": "This account link does not exist."}})
                if link["used"] or time.time() > link["deadline"]:
                    return redirect(link["refresh_url"], code=302)
                link["used"] = True
                self._complete_onboarding(link["account"], from_request=False)
                store.save()
                return redirect(link["return_url"], code=302)

        @api("/_local/accounts/<account_id>/complete_onboarding", methods=("POST",))
        def local_complete_onboarding(params, account, account_id):
            return self._complete_onboarding(account_id)

        @api("/_local/accounts/<account_id>/restrict", methods=("POST",))
        def local_restrict(params, account, account_id):
            obj = store.get(account_id, "account")
            previous = {"charges_enabled": obj["charges_enabled"], "payouts_enabled": obj["payouts_enabled"],
                        "capabilities": dict(obj["capabilities"])}
            obj["charges_enabled"] = False
            obj["payouts_enabled"] = False
            obj["capabilities"] = {name: "inactive" for name in obj["capabilities"]}
            obj["requirements"]["disabled_reason"] = "platform_paused"
            self.emit("account.updated", obj, account=account_id, previous=previous)
            return obj

        # PaymentIntents ---------------------------------------------------------

        @api("/v1/payment_intents", methods=("POST",))
        def create_payment_intent(params, account):
            _only(params, {"amount", "currency", "application_fee_amount", "transfer_data", "metadata",
                           "description", "payment_method", "confirm", "payment_method_types",
                           "automatic_payment_methods", "receipt_email", "statement_descriptor",
                           "statement_descriptor_suffix", "transfer_group", "return_url", "capture_method"})
            amount = _to_int(params, "amount", required=True)
            currency = _currency(params)
            minimum = MIN_AMOUNT.get(currency, MIN_AMOUNT_DEFAULT)
            if amount < minimum:
                raise StripeError(400, "Amount must be at least {} {}".format(_money(minimum, currency), currency),
                                  code="amount_too_small", param="amount")
            if amount > MAX_AMOUNT:
                raise StripeError(400, "Amount must be no more than {}".format(_money(MAX_AMOUNT, currency)),
                                  code="amount_too_large", param="amount")
            fee = _to_int(params, "application_fee_amount", minimum=0)
            transfer_data = params.get("transfer_data")
            destination = None
            if transfer_data is not None:
                if not isinstance(transfer_data, dict):
                    raise StripeError(400, "Invalid object", param="transfer_data")
                _only(transfer_data, {"destination"})
                destination = _to_str(transfer_data, "destination")
                if destination is None:
                    raise StripeError(400, "Missing required param: transfer_data[destination].",
                                      code="parameter_missing", param="transfer_data[destination]")
            if fee is not None and destination is None:
                raise StripeError(400, "Can only apply an application_fee_amount when the PaymentIntent is attempting "
                                  "a direct payment (using an OAuth key or Stripe-Account header) or destination "
                                  "payment (using `transfer_data[destination]`).", param="application_fee_amount")
            if fee is not None and fee > amount:
                raise StripeError(400, "The application fee amount ({}) must be less than or equal to the amount "
                                  "({}).".format(fee, amount), param="application_fee_amount")
            if destination is not None:
                self._check_destination(destination)
            types = params.get("payment_method_types")
            automatic = params.get("automatic_payment_methods")
            if types is not None and (not isinstance(types, list) or not types):
                raise StripeError(400, "Invalid array", param="payment_method_types")
            if automatic is not None and types is not None:
                raise StripeError(400, "You may only specify one of these parameters: automatic_payment_methods, "
                                  "payment_method_types.", param="automatic_payment_methods")
            pi_id = new_id("pi")
            obj = {
                "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
                "amount_received": 0, "application": None, "application_fee_amount": fee,
                "automatic_payment_methods": ({"allow_redirects": "always", "enabled": True}
                                              if isinstance(automatic, dict) and automatic.get("enabled") == "true"
                                              else None),
                "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic_async",
                "client_secret": "{}_secret_{}".format(pi_id, new_id("x", 25)[2:]),
                "confirmation_method": "automatic", "created": now(), "currency": currency, "customer": None,
                "description": _to_str(params, "description"), "last_payment_error": None, "latest_charge": None,
                "livemode": False, "metadata": _metadata(params), "next_action": None, "on_behalf_of": None,
                "payment_method": None, "payment_method_types": types or ["card"], "processing": None,
                "receipt_email": _to_str(params, "receipt_email"), "setup_future_usage": None, "shipping": None,
                "statement_descriptor": _to_str(params, "statement_descriptor"),
                "statement_descriptor_suffix": _to_str(params, "statement_descriptor_suffix"),
                "status": "requires_payment_method",
                "transfer_data": {"destination": destination} if destination else None,
                "transfer_group": _to_str(params, "transfer_group"),
            }
            payment_method = _to_str(params, "payment_method")
            if payment_method is not None:
                self._card(payment_method)
                obj["payment_method"] = payment_method
                obj["status"] = "requires_confirmation"
            store.put(obj)
            self.emit("payment_intent.created", obj)
            if _to_bool(params, "confirm"):
                return self._confirm(obj, payment_method)
            return obj

        @api("/v1/payment_intents/<pi_id>")
        def get_payment_intent(params, account, pi_id):
            return store.get(pi_id, "payment_intent")

        @api("/v1/payment_intents/<pi_id>/confirm", methods=("POST",))
        def confirm_payment_intent(params, account, pi_id):
            _only(params, {"payment_method", "return_url", "receipt_email", "payment_method_types"})
            obj = store.get(pi_id, "payment_intent")
            return self._confirm(obj, _to_str(params, "payment_method"))

        @api("/v1/payment_intents/<pi_id>/cancel", methods=("POST",))
        def cancel_payment_intent(params, account, pi_id):
            _only(params, {"cancellation_reason"})
            obj = store.get(pi_id, "payment_intent")
            reason = _to_str(params, "cancellation_reason", choices=CANCEL_REASONS)
            if obj["status"] not in CANCELABLE:
                raise StripeError(400, "You cannot cancel this PaymentIntent because it has a status of {}. Only a "
                                  "PaymentIntent with one of the following statuses may be canceled: {}."
                                  .format(obj["status"], ", ".join(CANCELABLE)),
                                  code="payment_intent_unexpected_state", payment_intent=copy.deepcopy(obj))
            obj.update(status="canceled", canceled_at=now(), cancellation_reason=reason, next_action=None)
            self.emit("payment_intent.canceled", obj)
            return obj

        @api("/_local/payment_intents/<pi_id>/authenticate", methods=("POST",))
        def local_authenticate(params, account, pi_id):
            obj = store.get(pi_id, "payment_intent")
            if obj["status"] != "requires_action":
                raise StripeError(400, "This PaymentIntent does not await authentication (status {})."
                                  .format(obj["status"]), code="payment_intent_unexpected_state")
            if _to_bool(params, "fail"):
                error = {"type": "invalid_request_error", "code": "payment_intent_authentication_failure",
                         "message": "The provided PaymentMethod has failed authentication. You can provide "
                                    "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                                    "PaymentIntent again."}
                obj.update(status="requires_payment_method", next_action=None, payment_method=None,
                           last_payment_error=error)
                self.emit("payment_intent.payment_failed", obj)
                return obj
            return self._succeed(obj)

        # Charges, transfers, fees ---------------------------------------------

        @api("/v1/charges/<charge_id>")
        def get_charge(params, account, charge_id):
            return store.get(charge_id, "charge")

        @api("/v1/transfers/<transfer_id>")
        def get_transfer(params, account, transfer_id):
            return store.get(transfer_id, "transfer")

        @api("/v1/application_fees/<fee_id>")
        def get_application_fee(params, account, fee_id):
            return store.get(fee_id, "application_fee")

        # Refunds ----------------------------------------------------------------

        @api("/v1/refunds", methods=("POST",))
        def create_refund(params, account):
            _only(params, {"payment_intent", "charge", "amount", "reason", "reverse_transfer",
                           "refund_application_fee", "metadata", "instructions_email"})
            return self._refund(params)

        @api("/v1/refunds/<refund_id>")
        def get_refund(params, account, refund_id):
            return store.get(refund_id, "refund")

        # Balance and payouts ------------------------------------------------------

        @api("/v1/balance", account_header=True)
        def get_balance(params, account):
            holder = account or PLATFORM
            per_currency = store.balances.get(holder) or {}
            if not per_currency:
                default = store.objects[account]["default_currency"] if account else "usd"
                per_currency = {default: {"available": 0, "pending": 0}}
            return {
                "object": "balance", "livemode": False,
                "available": [{"amount": v["available"], "currency": c, "source_types": {"card": v["available"]}}
                              for c, v in sorted(per_currency.items())],
                "pending": [{"amount": v["pending"], "currency": c, "source_types": {"card": v["pending"]}}
                            for c, v in sorted(per_currency.items())],
            }

        @api("/v1/payouts", methods=("POST",), account_header=True)
        def create_payout(params, account):
            _only(params, {"amount", "currency", "metadata", "description", "statement_descriptor", "method",
                           "destination", "source_type"})
            amount = _to_int(params, "amount", required=True, minimum=1)
            currency = _currency(params)
            if account and not store.objects[account]["payouts_enabled"]:
                raise StripeError(400, "Your destination account does not have payouts enabled. Payouts are "
                                  "enabled once onboarding is complete.", code="payouts_not_allowed")
            if amount > store.available(account, currency):
                raise StripeError(400, "You have insufficient funds in your Stripe account for this transfer. "
                                  "Your card balance is too low. You can use the /v1/balance endpoint to view "
                                  "your Stripe balance (for more details, see stripe.com/docs/api#balance).",
                                  code="balance_insufficient")
            created = now()
            obj = {
                "id": new_id("po"), "object": "payout", "amount": amount,
                "arrival_date": created + max(int(self.payout_delay), 1), "automatic": False,
                "balance_transaction": None, "created": created, "currency": currency,
                "description": _to_str(params, "description"), "destination": "ba_local_" + (account or "platform"),
                "failure_balance_transaction": None, "failure_code": None, "failure_message": None,
                "livemode": False, "metadata": _metadata(params), "method": "standard", "original_payout": None,
                "reversed_by": None, "source_type": "card",
                "statement_descriptor": _to_str(params, "statement_descriptor"), "status": "pending",
                "type": "bank_account",
            }
            store.credit(account, currency, -amount)
            store.put(obj)
            store.meta[obj["id"]] = {"account": account, "pays_at": time.time() + self.payout_delay}
            self.emit("payout.created", obj, account=account)
            return obj

        @api("/v1/payouts/<payout_id>", account_header=True)
        def get_payout(params, account, payout_id):
            obj = store.get(payout_id, "payout")
            if store.meta.get(payout_id, {}).get("account") != account:
                raise missing("payout", payout_id)
            return obj

        @api("/_local/payouts/<payout_id>/fail", methods=("POST",))
        def local_fail_payout(params, account, payout_id):
            obj = store.get(payout_id, "payout")
            if obj["status"] != "pending":
                raise StripeError(400, "Only a pending payout can fail; this one is {}.".format(obj["status"]))
            meta = store.meta[payout_id]
            meta["pays_at"] = None
            obj.update(status="failed", failure_code=_to_str(params, "failure_code") or "account_closed",
                       failure_message="The bank account has been closed.")
            store.credit(meta["account"], obj["currency"], obj["amount"])
            self.emit("payout.failed", obj, account=meta["account"])
            return obj

        # Events ---------------------------------------------------------------

        @api("/v1/events/<event_id>")
        def get_event(params, account, event_id):
            return store.get(event_id, "event")

        @api("/_local/events")
        def local_events(params, account):
            data = []
            for event_id in reversed(store.events):
                event = store.objects[event_id]
                delivery = store.deliveries[event_id]
                data.append({"id": event_id, "object": "local_event", "type": event["type"],
                             "created": event["created"], "account": event.get("account"),
                             "object_id": event["data"]["object"].get("id"),
                             "delivery_status": delivery["status"], "attempts": delivery["attempts"]})
            return _list("/_local/events", data)

        @api("/_local/events/<event_id>/resend", methods=("POST",))
        def local_resend(params, account, event_id):
            event = store.get(event_id, "event")
            if not self.webhooks_enabled:
                raise StripeError(400, "No webhook URL is configured.")
            delivery = store.deliveries[event_id]
            if delivery["status"] == "in_flight":
                delivery["resend"] = True  # the sender sends it again once this attempt ends
            else:
                delivery.update(status="pending", round=0, next_at=time.time())
            store.changed.notify_all()
            return event

    # --- behaviour ---------------------------------------------------------------

    def _complete_onboarding(self, account_id, from_request=True):
        obj = self.store.get(account_id, "account")
        previous = {"charges_enabled": obj["charges_enabled"], "payouts_enabled": obj["payouts_enabled"],
                    "details_submitted": obj["details_submitted"], "capabilities": dict(obj["capabilities"])}
        capabilities = obj["capabilities"] or {"transfers": "inactive"}
        obj.update(charges_enabled=True, payouts_enabled=True, details_submitted=True,
                   capabilities={name: "active" for name in capabilities})
        obj["requirements"].update(currently_due=[], past_due=[], disabled_reason=None)
        self.emit("account.updated", obj, account=account_id, previous=previous, from_request=from_request)
        return obj

    def _check_destination(self, destination):
        obj = self.store.objects.get(destination)
        if obj is None or obj["object"] != "account":
            raise StripeError(400, "No such destination: '{}'".format(destination), code="resource_missing",
                              param="transfer_data[destination]")
        if not obj["charges_enabled"] or obj["capabilities"].get("transfers") != "active":
            raise StripeError(400, "Your destination account needs to have at least one of the following "
                              "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                              code="insufficient_capabilities_for_transfer", param="transfer_data[destination]")
        return obj

    def _card(self, payment_method):
        if payment_method not in TEST_CARDS:
            raise StripeError(400, "No such PaymentMethod: '{}'".format(payment_method), code="resource_missing",
                              param="payment_method")
        brand, last4, outcome = TEST_CARDS[payment_method]
        return {"id": payment_method, "object": "payment_method", "type": "card",
                "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034, "country": "US",
                         "funding": "credit"}}, outcome

    def _confirm(self, pi, payment_method):
        status = pi["status"]
        if status not in CONFIRMABLE:
            if status == "succeeded":
                message = ("You cannot confirm this PaymentIntent because it has already succeeded after being "
                           "previously confirmed.")
            else:
                message = ("You cannot confirm this PaymentIntent because it has a status of {}. Only a "
                           "PaymentIntent with one of the following statuses may be confirmed: {}."
                           .format(status, ", ".join(CONFIRMABLE)))
            raise StripeError(400, message, code="payment_intent_unexpected_state", payment_intent=copy.deepcopy(pi))
        payment_method = payment_method or pi["payment_method"]
        if not payment_method:
            raise StripeError(400, "You cannot confirm this PaymentIntent because it's missing a payment method. "
                              "To confirm the PaymentIntent with {}, specify a payment method attached to this "
                              "customer along with the customer ID.".format(pi["id"]),
                              code="payment_intent_unexpected_state", param="payment_method")
        method, outcome = self._card(payment_method)
        if pi["transfer_data"]:
            self._check_destination(pi["transfer_data"]["destination"])
        pi["payment_method"] = payment_method
        pi["last_payment_error"] = None
        if outcome == "authenticate":
            pi.update(status="requires_action", next_action={
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": "", "source": new_id("src")}})
            self.emit("payment_intent.requires_action", pi)
            return pi
        if outcome is None:
            return self._succeed(pi)
        code, decline_code, message = outcome
        charge = self._charge(pi, method, failure=(code, message))
        error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message,
                 "charge": charge["id"], "payment_method": method,
                 "doc_url": "https://stripe.com/docs/error-codes/{}".format(code.replace("_", "-"))}
        pi.update(status="requires_payment_method", payment_method=None, latest_charge=charge["id"],
                  last_payment_error=error, next_action=None)
        self.emit("charge.failed", charge)
        self.emit("payment_intent.payment_failed", pi)
        raise StripeError(402, message, type="card_error", code=code, decline_code=decline_code,
                          charge=charge["id"], payment_method=method, payment_intent=copy.deepcopy(pi))

    def _charge(self, pi, method, failure=None):
        charge = {
            "id": new_id("ch"), "object": "charge", "amount": pi["amount"],
            "amount_captured": 0 if failure else pi["amount"], "amount_refunded": 0,
            "application": None, "application_fee": None, "application_fee_amount": pi["application_fee_amount"],
            "balance_transaction": None, "captured": not failure, "created": now(), "currency": pi["currency"],
            "customer": None, "description": pi["description"],
            "destination": pi["transfer_data"]["destination"] if pi["transfer_data"] else None,
            "disputed": False, "failure_code": failure[0] if failure else None,
            "failure_message": failure[1] if failure else None, "livemode": False,
            "metadata": dict(pi["metadata"]), "on_behalf_of": None,
            "outcome": {"network_status": "declined_by_network" if failure else "approved_by_network",
                        "reason": None, "risk_level": "normal", "seller_message":
                            "The bank did not return any further details with this decline." if failure
                            else "Payment complete.", "type": "issuer_declined" if failure else "authorized"},
            "paid": not failure, "payment_intent": pi["id"], "payment_method": method["id"],
            "payment_method_details": {"type": "card", "card": dict(method["card"])},
            "receipt_email": pi["receipt_email"], "refunded": False, "status": "failed" if failure else "succeeded",
            "transfer": None, "transfer_data": ({"amount": None, "destination": pi["transfer_data"]["destination"]}
                                                if pi["transfer_data"] else None),
            "transfer_group": pi["transfer_group"],
        }
        return self.store.put(charge)

    def _succeed(self, pi):
        store = self.store
        method, _ = self._card(pi["payment_method"])
        charge = self._charge(pi, method)
        currency, amount = pi["currency"], pi["amount"]
        store.credit(None, currency, amount)
        if pi["transfer_data"]:
            destination = pi["transfer_data"]["destination"]
            group = pi["transfer_group"] or "group_{}".format(pi["id"])
            pi["transfer_group"] = charge["transfer_group"] = group
            # As Stripe does for destination charges: the whole amount goes to the
            # connected account, and the application fee comes back from it.
            transfer = store.put({
                "id": new_id("tr"), "object": "transfer", "amount": amount, "amount_reversed": 0,
                "balance_transaction": None, "created": now(), "currency": currency, "description": None,
                "destination": destination, "destination_payment": new_id("py"), "livemode": False,
                "metadata": {}, "reversals": _list("/v1/transfers/{}/reversals".format("x")), "reversed": False,
                "source_transaction": charge["id"], "source_type": "card", "transfer_group": group,
            })
            transfer["reversals"]["url"] = "/v1/transfers/{}/reversals".format(transfer["id"])
            store.meta[transfer["id"]] = {"refund_basis": 0}
            store.credit(None, currency, -amount)
            store.credit(destination, currency, amount)
            charge["transfer"] = transfer["id"]
            fee_amount = pi["application_fee_amount"]
            if fee_amount:
                fee = store.put({
                    "id": new_id("fee"), "object": "application_fee", "account": destination,
                    "amount": fee_amount, "amount_refunded": 0, "application": "ca_local", "balance_transaction": None,
                    "charge": charge["id"], "created": now(), "currency": currency, "livemode": False,
                    "originating_transaction": charge["id"], "refunded": False,
                    "refunds": _list("/v1/application_fees/x/refunds"),
                })
                fee["refunds"]["url"] = "/v1/application_fees/{}/refunds".format(fee["id"])
                store.meta[fee["id"]] = {"refund_basis": 0}
                store.credit(destination, currency, -fee_amount)
                store.credit(None, currency, fee_amount)
                charge["application_fee"] = fee["id"]
        pi.update(status="succeeded", amount_received=amount, latest_charge=charge["id"], next_action=None,
                  last_payment_error=None)
        self.emit("charge.succeeded", charge)
        self.emit("payment_intent.succeeded", pi)
        return pi

    @staticmethod
    def _proportional(store, obj, charge_amount, refund_amount):
        """Share of ``obj`` (a transfer or fee) for this refund: cumulative floor, so the
        parts never exceed the whole and a full refund takes exactly all of it."""
        meta = store.meta[obj["id"]]
        meta["refund_basis"] += refund_amount
        field = "amount_reversed" if obj["object"] == "transfer" else "amount_refunded"
        target = obj["amount"] * meta["refund_basis"] // charge_amount
        return max(0, min(target, obj["amount"]) - obj[field])

    def _refund(self, params):
        store = self.store
        pi_id, charge_id = _to_str(params, "payment_intent"), _to_str(params, "charge")
        if pi_id and charge_id:
            raise StripeError(400, "You can only specify one of these parameters: charge, payment_intent.",
                              param="charge")
        if not pi_id and not charge_id:
            raise StripeError(400, "One of the following params should be provided for this request: "
                              "payment_intent or charge.", code="parameter_missing", param="payment_intent")
        if pi_id:
            pi = store.get(pi_id, "payment_intent", param="payment_intent")
            if pi["status"] != "succeeded":
                raise StripeError(400, "This PaymentIntent ({}) does not have a successful charge to refund."
                                  .format(pi_id), code="charge_not_refundable", param="payment_intent")
            charge = store.objects[pi["latest_charge"]]
        else:
            charge = store.get(charge_id, "charge", param="charge")
            if charge["status"] != "succeeded":
                raise StripeError(400, "Charge {} has not succeeded and cannot be refunded.".format(charge_id),
                                  code="charge_not_refundable", param="charge")
        remaining = charge["amount"] - charge["amount_refunded"]
        if charge["refunded"] or remaining <= 0:
            raise StripeError(400, "Charge {} has already been refunded.".format(charge["id"]),
                              code="charge_already_refunded")
        amount = _to_int(params, "amount")
        if amount is None:
            amount = remaining
        if amount < 1:
            raise StripeError(400, "Invalid positive integer", code="parameter_invalid_integer", param="amount")
        if amount > remaining:
            raise StripeError(400, "Refund amount ({}) is greater than unrefunded amount on charge ({})"
                              .format(_money(amount, charge["currency"]), _money(remaining, charge["currency"])),
                              param="amount")
        reason = _to_str(params, "reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise StripeError(400, "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                              code="parameter_invalid_string", param="reason")
        reverse = _to_bool(params, "reverse_transfer")
        refund_fee = _to_bool(params, "refund_application_fee")
        if (reverse or refund_fee) and not charge["transfer"]:
            param = "reverse_transfer" if reverse else "refund_application_fee"
            raise StripeError(400, "This charge has no transfer or application fee to reverse.", param=param)
        currency = charge["currency"]
        refund = {
            "id": new_id("re"), "object": "refund", "amount": amount, "balance_transaction": None,
            "charge": charge["id"], "created": now(), "currency": currency, "destination_details": None,
            "metadata": _metadata(params), "payment_intent": charge["payment_intent"], "reason": reason,
            "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
            "transfer_reversal": None,
        }
        store.credit(None, currency, -amount)
        if reverse:
            transfer = store.objects[charge["transfer"]]
            share = self._proportional(store, transfer, charge["amount"], amount)
            reversal = store.put({
                "id": new_id("trr"), "object": "transfer_reversal", "amount": share, "balance_transaction": None,
                "created": now(), "currency": currency, "destination_payment_refund": new_id("pyr"),
                "metadata": {}, "source_refund": refund["id"], "transfer": transfer["id"],
            })
            transfer["amount_reversed"] += share
            transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
            transfer["reversals"]["data"].insert(0, reversal)
            transfer["reversals"]["total_count"] += 1
            store.credit(transfer["destination"], currency, -share)
            store.credit(None, currency, share)
            refund["transfer_reversal"] = reversal["id"]
        if refund_fee and charge["application_fee"]:
            fee = store.objects[charge["application_fee"]]
            share = self._proportional(store, fee, charge["amount"], amount)
            fee_refund = {"id": new_id("fr"), "object": "fee_refund", "amount": share, "balance_transaction": None,
                          "created": now(), "currency": currency, "fee": fee["id"], "metadata": {}}
            fee["amount_refunded"] += share
            fee["refunded"] = fee["amount_refunded"] >= fee["amount"]
            fee["refunds"]["data"].insert(0, fee_refund)
            fee["refunds"]["total_count"] += 1
            store.credit(None, currency, -share)
            store.credit(fee["account"], currency, share)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        store.put(refund)
        self.emit("refund.created", refund)
        self.emit("charge.refunded", charge)
        return refund

    def pay_out(self, payout_id):
        """Called by the payout clock once a pending payout's delay is over."""
        meta = self.store.meta[payout_id]
        meta["pays_at"] = None
        obj = self.store.objects[payout_id]
        if obj["status"] != "pending":
            return
        obj["status"] = "paid"
        self.emit("payout.paid", obj, account=meta["account"], from_request=False)
