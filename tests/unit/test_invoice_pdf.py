"""services.payment.invoice_pdf: the invoice a person downloads, read back as text."""
import io

import pypdf
import pytest

from services.common.money import money
from services.payment.invoice_pdf import FONTS, render


def details(**changes):
    snapshot = {
        "number": "2026-000042",
        "issued_at": "2026-11-25T12:00:00+00:00",
        "seller": {
            "name": "Tutoring Marketplace Ltd",
            "address": ["1 Example Street", "London EC1A 1AA", "United Kingdom"],
            "email": "billing@example.com",
            "tax_id": "GB123456789",
        },
        "buyer": {"name": "Zoë Łukasiewicz", "email": "zoe@example.com"},
        "tutor": {"name": "Dr. 山田 太郎"},
        "lesson": {
            "id": "3f1c2a9e-8b7d-4c6e-9a12-5d4e3f2a1b0c",
            "title": "Calculus I",
            "scheduled_at": "2026-12-01T14:00:00+00:00",
            "ends_at": "2026-12-01T15:00:00+00:00",
        },
        "currency": "EUR",
        "amount": 4000,
        "platform_fee": 600,
        "tutor_share": 3400,
        "payment": {
            "id": "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
            "stripe_payment_intent_id": "pi_123",
            "paid_at": "2026-11-25T11:59:58+00:00",
        },
    }
    snapshot.update(changes)
    return snapshot


# --- reading the PDF back -------------------------------------------------

def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def page_count(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def words(text: str) -> str:
    return " ".join(text.split())


# --- money ----------------------------------------------------------------

@pytest.mark.parametrize("amount,currency,expected", [
    (4000, "EUR", "EUR 40.00"),
    (0, "EUR", "EUR 0.00"),
    (1, "EUR", "EUR 0.01"),
    (99, "usd", "USD 0.99"),
    (123456789012, "EUR", "EUR 1,234,567,890.12"),
    (10 ** 20 + 5, "GBP", "GBP 1,000,000,000,000,000,000.05"),
    (4000, "JPY", "JPY 4,000"),
    (0, "JPY", "JPY 0"),
    (1, "JPY", "JPY 1"),
    (1234567, "KRW", "KRW 1,234,567"),
    (1500, "KWD", "KWD 1.500"),
    (1, "KWD", "KWD 0.001"),
    (0, "KWD", "KWD 0.000"),
    (1234567890, "BHD", "BHD 1,234,567.890"),
    (-250, "EUR", "EUR -2.50"),
])
def test_money(amount, currency, expected):
    assert money(amount, currency) == expected


@pytest.mark.parametrize("amount", [40.0, "4000", True])
def test_money_takes_only_integer_minor_units(amount):
    with pytest.raises(TypeError):
        money(amount, "EUR")


# --- the PDF --------------------------------------------------------------

def test_fonts_are_bundled_with_their_licence():
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DroidSansFallback.ttf", "LICENSE"):
        assert (FONTS / name).is_file(), name


def test_invoice_reads_back():
    pdf = render(details())
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    text = words(text_of(pdf))
    for expected in (
        "Invoice", "2026-000042", "25 Nov 2026",
        "Tutoring Marketplace Ltd", "London EC1A 1AA", "billing@example.com", "GB123456789",
        "Billed to", "Zoë Łukasiewicz", "zoe@example.com",
        "Calculus I", "山田", "太郎", "1 Dec 2026", "14:00–15:00", "UTC",
        "Total", "EUR 40.00",
        "Of which marketplace fee: EUR 6.00; paid to the tutor: EUR 34.00",
        "pi_123", "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d", "3f1c2a9e-8b7d-4c6e-9a12-5d4e3f2a1b0c",
    ):
        assert expected.lower() in text.lower(), expected
    assert "\ufffd" not in text


def test_metadata_and_deterministic_bytes():
    pdf = render(details())
    assert b"/Title (Invoice 2026-000042)" in pdf
    assert b"/Author (Tutoring Marketplace Ltd)" in pdf
    assert b"/CreationDate (D:20261125120000Z)" in pdf
    assert render(details()) == pdf


def test_empty_tax_id_leaves_the_line_out():
    snapshot = details()
    snapshot["seller"] = {**snapshot["seller"], "tax_id": ""}
    text = text_of(render(snapshot))
    assert "Tax ID" not in text
    assert "Tax ID" in text_of(render(details()))


def test_zero_and_three_decimal_currencies():
    text = words(text_of(render(details(currency="JPY", amount=4000, platform_fee=600,
                                        tutor_share=3400))))
    assert "JPY 4,000" in text
    assert "fee: JPY 600; paid to the tutor: JPY 3,400" in text
    text = words(text_of(render(details(currency="KWD", amount=1500, platform_fee=225,
                                        tutor_share=1275))))
    assert "KWD 1.500" in text and "KWD 0.225" in text and "KWD 1.275" in text


def test_a_long_title_and_names_wrap_on_one_page():
    title_words = [f"Topic{i:03d}" for i in range(40)]
    title = " ".join(title_words)[:300]
    assert len(title) == 300
    snapshot = details(lesson={**details()["lesson"], "title": title},
                       buyer={"name": "Zoë Łukasiewicz-Szczebrzeszyńska " * 4,
                              "email": "zoe@example.com"},
                       tutor={"name": "Dr. 山田 太郎 " + "Wolfeschlegelsteinhausen " * 3})
    pdf = render(snapshot)
    assert page_count(pdf) == 1
    text = words(text_of(pdf))
    for word in title.split():
        assert word in text, word
    assert "Szczebrzeszyńska" in text and "Wolfeschlegelsteinhausen" in text
    assert "EUR 40.00" in text


def test_lesson_over_midnight_shows_both_dates():
    lesson = {**details()["lesson"], "scheduled_at": "2026-12-01T23:30:00+00:00",
              "ends_at": "2026-12-02T00:30:00+00:00"}
    text = words(text_of(render(details(lesson=lesson))))
    # The line wraps, and readers put the other cells between its lines.
    assert "1 Dec 2026, 23:30–2 Dec" in text and "2026, 00:30 UTC" in text
