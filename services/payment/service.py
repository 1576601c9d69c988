"""Payment service entrypoints: learning's lesson events start, cancel and
release payments; Stripe's webhooks tell how they went; students pay,
tutors set up payouts, admins refund (docs/payments.md). Each entrypoint
checks its caller, validates its payload and hands over to the module that
owns the rule, in one unit of work that it commits."""
import base64
import logging
from datetime import datetime, timezone

from nameko.dependency_providers import Config
from nameko.web.handlers import http

from services.common import revocations
from services.common.access import OPERATORS
from services.common.auth import Auth
from services.common.errors import BadInput, ServiceError
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, subscribe
from services.common.rpc import rpc
from services.common.timers import timer
from services.common.uow import UnitOfWorkProvider
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.payment import accounts, charges, invoices, ledger, payouts, refunds, rules, webhooks
from services.payment.dependencies import Stripe
from services.payment.events import PUBLISHED
from services.payment.models import Base, LessonState, RevokedSession
from services.payment.schemas import (LessonBooked, LessonCancelled, LessonEnded, PageSchema, PayForLessonSchema,
                                      RefundPaymentSchema, RunPayoutsSchema)
from services.payment.settings import Settings

log = logging.getLogger(__name__)

TUTOR, STUDENT, ADMIN = {"tutor"}, {"student"}, {"admin"}


class PaymentService(HealthRpc, DeadLetterRpc):
    name = "payment"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    inbox = Inbox()
    config = Config()
    auth = Auth()
    stripe = Stripe()
    settings = Settings()

    # learning's lessons drive the payments (docs/payments.md, "The saga").

    @subscribe("learning", "lesson_booked", versions={1}, schema=LessonBooked)
    def on_lesson_booked(self, uow, event):
        charges.open_for_lesson(uow, self.stripe, self.settings, event.data)

    @subscribe("learning", "lesson_expired", versions={1}, schema=LessonEnded)
    def on_lesson_expired(self, uow, event):
        charges.end_for_lesson(uow, self.stripe, self.settings, event.data["id"], LessonState.expired)

    @subscribe("learning", "lesson_cancelled", versions={1}, schema=LessonCancelled)
    def on_lesson_cancelled(self, uow, event):
        charges.end_for_lesson(uow, self.stripe, self.settings, event.data["id"], LessonState.cancelled, event.data)

    @subscribe("learning", "lesson_completed", versions={1}, schema=LessonEnded)
    def on_lesson_completed(self, uow, event):
        charges.mark_completed(uow, event.data["id"], event.occurred_at)

    # Sessions identity ended: ``self.auth`` refuses their tokens from then on.

    @subscribe("identity", "session_revoked", **revocations.SESSION_REVOKED)
    def on_session_revoked(self, uow, event):
        revocations.record(uow, RevokedSession, event.data)

    # Stripe's webhooks: the signature is the caller's credential.

    @http("POST", "/webhooks/stripe")
    def stripe_webhook(self, request):
        event = None
        try:
            event = webhooks.verify(request, self.stripe)
            with self.uow() as uow:
                outcome = webhooks.apply(uow, self.stripe, self.settings, event)
                uow.commit()
        except Exception as error:
            return webhooks.not_applied(error, event)
        return webhooks.applied(event, outcome)

    # Tutors' payout accounts.

    @rpc
    def start_payout_onboarding(self, token):
        """The tutor's Stripe onboarding link (new each time, single use)."""
        tutor = self.auth.require(token, TUTOR)
        with self.uow() as uow:
            view = accounts.start_onboarding(uow, self.stripe, self.settings, tutor.user_id)
            uow.commit()
        return view

    @rpc
    def payout_accounts(self, token, user_ids):
        """{user id: payout account or None}; a tutor's own, an admin's anyone's."""
        ids = self.auth.require_own(token, user_ids, "user_ids")[1]
        with self.uow() as uow:
            return accounts.accounts_for(uow.session, ids)

    # Paying for lessons.

    @rpc
    def pay_for_lesson(self, token, payload):
        """Charge the lesson's student; a declined card comes back as a
        ``failed`` payment with Stripe's codes and message."""
        student = self.auth.require(token, STUDENT)
        data = load(PayForLessonSchema(), payload)
        with self.uow() as uow:
            payment = charges.pay(uow, self.stripe, self.settings, student.user_id, data["lesson_id"],
                                  data["payment_method_id"], datetime.now(timezone.utc))
            uow.commit()
        return self._payments_of_lessons(student, [payment.lesson_id])[str(payment.lesson_id)]

    @rpc
    def payments_for_lessons(self, token, lesson_ids):
        """{lesson id: payment or None}; the lesson's parties and admins see it."""
        principal = self.auth.require(token)
        return self._payments_of_lessons(principal, parse_uuid_list(lesson_ids, "lesson_ids"))

    def _payments_of_lessons(self, principal, lesson_ids):
        with self.uow() as uow:
            return charges.payments_for_lessons(uow.session, principal, lesson_ids)

    @rpc
    def payment_pages_for_users(self, token, user_ids, role, payload=None):
        """One page per user of the payments they made (``student``) or
        received (``tutor``), newest first; their own, or an admin's view."""
        principal, ids = self.auth.require_own(token, user_ids, "user_ids")
        if role not in ("student", "tutor"):
            raise BadInput("invalid role", {"role": ["Must be student or tutor."]})
        page = load(PageSchema(), payload or {})
        with self.uow() as uow:
            return charges.payment_pages_for_users(uow.session, principal, ids, role, page["first"], page["after"])

    @rpc
    def invoice_pdf(self, token, invoice_id):
        """{"filename", "pdf" (base64)} of an invoice, for its student or an admin."""
        principal = self.auth.require(token)
        invoice_id = parse_uuid(invoice_id, "invoice_id")
        with self.uow() as uow:
            filename, pdf = invoices.pdf(uow, principal, invoice_id, invoices.render_in_child)
            uow.commit()
        return {"filename": filename, "pdf": base64.b64encode(pdf).decode()}

    @timer("INVOICE_DRAW_SECONDS", default=2)
    def draw_invoices(self):
        """Draw new invoices' PDFs ahead of their download, in a child process."""
        try:
            with self.uow() as uow:
                invoices.draw_pending(uow, invoices.render_in_child)
                uow.commit()
        except Exception as exc:  # the database is away: the next tick tries again
            log.warning("invoice drawing failed, tried again in the next tick: %s", exc)

    # Refunds by hand, and payouts.

    @rpc
    def refund_payment(self, token, payment_id, payload):
        """An admin's refund, with a reason; at most what is left of the charge."""
        admin = self.auth.require(token, ADMIN)
        payment_id = parse_uuid(payment_id, "payment_id")
        data = load(RefundPaymentSchema(), payload)
        with self.uow() as uow:
            row = refunds.refund_by_admin(uow, self.stripe, admin.user_id, payment_id, data["amount"], data["reason"])
            uow.commit()
            return refunds.refund_view(row)

    @rpc
    def payout_pages_for_users(self, token, user_ids, payload=None):
        """One page per tutor of their payouts, newest week first."""
        ids = self.auth.require_own(token, user_ids, "user_ids")[1]
        page = load(PageSchema(), payload or {})
        with self.uow() as uow:
            return payouts.payout_pages_for_users(uow.session, ids, page["first"], page["after"])

    @rpc
    def run_payouts(self, token, payload=None):
        """Pay out one week (an operator's or admin's call; the timer does
        it for the last week). Running a week again pays nobody twice."""
        self.auth.require(token, OPERATORS)
        period_start = load(RunPayoutsSchema(), payload or {})["period_start"]
        now = datetime.now(timezone.utc)
        period = rules.check_period_start(period_start, now.date()) if period_start else rules.last_closed_period(now)
        return self._pay_out(*period)

    @timer("PAYOUT_TIMER_SECONDS", default=3600)
    def pay_out_last_week(self):
        try:
            self._pay_out(*rules.last_closed_period(datetime.now(timezone.utc)))
        except Exception as exc:  # Stripe or the database is away: the next tick tries again
            log.warning("payout run failed, tried again in the next tick: %s", exc)

    def _pay_out(self, period_start, period_end):
        """One unit of work per tutor, so one tutor's failure holds up no other."""
        with self.uow() as uow:
            due = payouts.due(uow.session, period_end)
        made, held = [], []
        for tutor_user_id, currency in due:
            try:
                with self.uow() as uow:
                    payout = payouts.pay_out(uow, self.stripe, tutor_user_id, currency, period_start, period_end)
                    uow.commit()
                    if payout is not None:
                        made.append(payouts.payout_view(payout))
            except ServiceError as refused:  # Stripe refused or is away: this tutor waits for the next run
                log.warning("payout for %s (%s) held: %s", tutor_user_id, currency, refused)
                held.append({"tutor_user_id": str(tutor_user_id), "currency": currency, "error": str(refused)})
        return {"period_start": period_start.isoformat(), "period_end": period_end.isoformat(), "payouts": made,
                "held": held}

    @rpc
    def ledger_check(self, token):
        """Payments whose ledger does not add up (an operator's check)."""
        self.auth.require(token, OPERATORS)
        with self.uow() as uow:
            return ledger.check(uow.session)
