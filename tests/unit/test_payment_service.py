"""Payment's entrypoints with nameko's worker_factory and the fake Stripe
(services/payment/dependencies.py): bad input is refused before the
database or Stripe is touched, and a webhook without a valid signature
writes nothing."""
from unittest import mock

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.auth import Principal
from services.common.errors import BadInput
from services.payment.dependencies import FakeStripe
from services.payment.service import PaymentService


def service(role="student"):
    worker = worker_factory(PaymentService, stripe=FakeStripe())
    worker.auth.require.return_value = Principal(user_id="00000000-0000-0000-0000-000000000001", role=role,
                                                 session_id=None)
    return worker


@pytest.mark.parametrize("payload,fields", [
    ({"lessonId": "nope", "paymentMethodId": "pm_card_visa"}, {"lessonId"}),
    ({"lessonId": "5f0b1c1e-9a6a-4a43-8f0e-6a3c1b2d3e4f", "paymentMethodId": "pm card"}, {"paymentMethodId"}),
    ({}, {"lessonId", "paymentMethodId"}),
    ({"lessonId": "5f0b1c1e-9a6a-4a43-8f0e-6a3c1b2d3e4f", "paymentMethodId": "pm_card_visa", "x": 1}, {"x"}),
])
def test_pay_for_lesson_names_the_bad_fields_before_any_write(payload, fields):
    worker = service()
    with pytest.raises(BadInput) as error:
        worker.pay_for_lesson("token", payload)
    assert set(error.value.details) == fields
    assert not worker.uow.called and worker.stripe.calls == []


@pytest.mark.parametrize("payload,field", [
    ({"reason": ""}, "reason"), ({"reason": "  "}, "reason"), ({"amount": 0, "reason": "Goodwill"}, "amount"),
    ({"amount": 1.5, "reason": "Goodwill"}, "amount"), ({"amount": "10", "reason": "Goodwill"}, "amount"),
])
def test_refund_payment_names_the_bad_field(payload, field):
    worker = service("admin")
    with pytest.raises(BadInput) as error:
        worker.refund_payment("token", "5f0b1c1e-9a6a-4a43-8f0e-6a3c1b2d3e4f", payload)
    assert field in error.value.details
    assert not worker.uow.called


def test_run_payouts_refuses_a_week_that_has_not_ended():
    worker = service("admin")
    with pytest.raises(BadInput) as error:
        worker.run_payouts("token", {"periodStart": "2999-01-05"})
    assert "period_start" in error.value.details


@pytest.mark.parametrize("headers,data,status", [
    ({"Stripe-Signature": "t=1,v1=00"}, b"{}", 400),
    ({}, b"{}", 400),
    ({"Content-Length": str(10 ** 7)}, b"{}", 413),
])
def test_a_webhook_without_a_valid_signature_writes_nothing(headers, data, status):
    worker = service()
    request = Request(EnvironBuilder(method="POST", path="/webhooks/stripe", data=data,
                                     headers=headers).get_environ())
    with mock.patch.object(request, "content_length", int(headers.get("Content-Length", len(data)))):
        response = worker.stripe_webhook(request)
    assert response.status_code == status
    assert not worker.uow.called
