"""Invoices: one per succeeded payment, numbered in sequence per year with
no gaps, and fixed when issued (docs/payments.md, "Invoices"). The PDF is
drawn from the stored details (services/payment/invoice_pdf.py), so it
reads the same however often it is downloaded."""
import json
import sys

from eventlet.green import subprocess
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.common.errors import NotFound
from services.payment import rules
from services.payment.models import Invoice, InvoiceCounter

CHILD_TIMEOUT_SECONDS = 30


def next_number(session, year):
    """The year's next number. The counter row stays locked until the
    transaction ends, so concurrent payments take turns and a rolled-back
    one leaves no gap."""
    counter = InvoiceCounter.__table__
    sequence = session.execute(insert(counter).values(year=year, last_number=1).on_conflict_do_update(
        index_elements=[counter.c.year], set_={"last_number": counter.c.last_number + 1},
    ).returning(counter.c.last_number)).scalar_one()
    return rules.invoice_number(year, sequence)


def issue(uow, payment, seller):
    """The payment's invoice (once: a second call finds the first)."""
    existing = uow.session.scalars(select(Invoice).where(Invoice.payment_id == payment.id)).first()
    if existing is not None:
        return existing
    issued_at = payment.succeeded_at
    number = next_number(uow.session, issued_at.year)
    booking = payment.booking
    invoice = Invoice(payment_id=payment.id, student_user_id=payment.student_user_id,
                      tutor_user_id=payment.tutor_user_id, amount=payment.amount, currency=payment.currency,
                      number=number, details={
                          "number": number, "issued_at": issued_at.isoformat(), "seller": seller,
                          "buyer": {"name": booking["student_name"], "email": booking["student_email"]},
                          "tutor": {"name": booking["tutor_name"]},
                          "lesson": {"id": str(payment.lesson_id), "title": booking["title"],
                                     "scheduled_at": booking["scheduled_at"], "ends_at": booking["ends_at"]},
                          "currency": payment.currency, "amount": payment.amount,
                          "platform_fee": payment.platform_fee, "tutor_share": payment.amount - payment.platform_fee,
                          "payment": {"id": str(payment.id),
                                      "stripe_payment_intent_id": payment.stripe_payment_intent_id,
                                      "paid_at": issued_at.isoformat()}})
    uow.session.add(invoice)
    uow.session.flush()
    return invoice


def invoice_ref(invoice):
    return {"id": str(invoice.id), "number": invoice.number}


def render_in_child(details):
    """The PDF, drawn by a child process (``python -m
    services.payment.invoice_pdf``): drawing takes most of a second of CPU,
    and in the service's own process it would stop every other worker
    meanwhile (eventlet), while in a thread fpdf2's logging would take
    eventlet's locks from outside the event loop."""
    done = subprocess.run([sys.executable, "-m", "services.payment.invoice_pdf"], input=json.dumps(details).encode(),
                          capture_output=True, timeout=CHILD_TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise RuntimeError("drawing the invoice failed: " + done.stderr.decode(errors="replace")[-2000:])
    return done.stdout


def draw(invoice, renderer):
    """Draw the invoice's PDF with ``renderer(details)`` and keep it."""
    invoice.pdf = renderer(invoice.details)
    return invoice.pdf


def draw_pending(uow, renderer, limit=5):
    """Draw the PDFs of invoices issued since the last tick (claimed, so two
    instances draw each once)."""
    pending = uow.session.scalars(select(Invoice).where(Invoice.pdf.is_(None)).order_by(Invoice.created_at)
                                  .limit(limit).with_for_update(skip_locked=True)).all()
    for invoice in pending:
        draw(invoice, renderer)
    uow.session.flush()
    return len(pending)


def pdf(uow, principal, invoice_id, renderer):
    """(file name, PDF) of an invoice, for its student or an admin: the one
    drawn in the background, or drawn now if the timer has not got to it."""
    invoice = uow.session.get(Invoice, invoice_id)
    # Someone else's invoice is not found either: its number tells nothing.
    if invoice is None or not (principal.is_admin or str(invoice.student_user_id) == principal.user_id):
        raise NotFound("no such invoice", {"invoice_id": ["Unknown invoice."]})
    return "invoice-{}.pdf".format(invoice.number), invoice.pdf or draw(invoice, renderer)
