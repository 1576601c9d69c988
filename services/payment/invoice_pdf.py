"""An invoice snapshot rendered as a one-page A4 PDF.

``render(details)`` is pure: it reads only the snapshot it is given and the
fonts bundled in ``data/fonts`` (DejaVu Sans for Latin, Greek, Cyrillic and
more; Droid Sans Fallback for Chinese, Japanese and Korean, used only for the
characters DejaVu lacks). The same snapshot always gives the same bytes.

Money is integer minor units; ``money(amount, currency)`` formats it with the
currency's number of decimals as Stripe counts them.
"""
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from services.common.money import money

__all__ = ["render", "money"]

FONTS = Path(__file__).resolve().parent / "data" / "fonts"
FAMILY = "DejaVuSans"
FALLBACK = "DroidSansFallback"

MARGIN = 20  # mm, all sides
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
SHADE = (241, 243, 245)


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _day_time(moment: datetime) -> str:
    return f"{_day(moment)}, {moment:%H:%M}"


def _lesson_period(starts: str, ends: str) -> str:
    """``1 Dec 2026, 14:00–15:00 UTC``; the end's date too when it differs."""
    start, end = _utc(starts), _utc(ends)
    until = f"{end:%H:%M}" if end.date() == start.date() else _day_time(end)
    return f"{_day_time(start)}\u2013{until} UTC"


class _Invoice(FPDF):
    def __init__(self):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN)
        self.c_margin = 0  # text starts exactly at the margin
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.add_font(FALLBACK, "", str(FONTS / "DroidSansFallback.ttf"))
        # Bold CJK falls back to the regular face rather than to boxes.
        self.set_fallback_fonts([FALLBACK], exact_match=False)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)

    def font(self, size: float, bold: bool = False, muted: bool = False):
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*(MUTED if muted else INK))

    def lines(self, x: float, width: float, texts, size: float,
              bold_first: bool = False, label: str = "") -> float:
        """Write a block of wrapped lines at ``x``; return the y below it."""
        self.set_xy(x, self.get_y())
        if label:
            self.font(8, bold=True, muted=True)
            self.multi_cell(width, 5, label.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        for index, text in enumerate(t for t in texts if t):
            self.font(size, bold=bold_first and index == 0)
            self.multi_cell(width, size * 0.5, text, new_x=XPos.LEFT, new_y=YPos.NEXT)
        return self.get_y()


def render(details: dict) -> bytes:
    """The invoice snapshot ``details`` as PDF bytes."""
    seller, buyer, tutor = details["seller"], details["buyer"], details["tutor"]
    lesson, payment = details["lesson"], details["payment"]
    currency = details["currency"]
    issued = _utc(details["issued_at"])

    pdf = _Invoice()
    pdf.set_title(f"Invoice {details['number']}")
    pdf.set_author(seller["name"])
    pdf.set_subject(f"Lesson: {lesson['title']}")
    pdf.set_creator(seller["name"])
    pdf.set_lang("en")
    pdf.set_creation_date(issued)
    pdf.add_page()
    width = pdf.epw
    half = (width - 10) / 2

    # Title, with the number and issue date on the right.
    top = pdf.get_y()
    pdf.font(26, bold=True)
    pdf.cell(half, 12, "Invoice")
    pdf.set_xy(MARGIN + half + 10, top + 1)
    for label, value in (("Invoice no.", details["number"]),
                         ("Issue date", _day(issued))):
        pdf.set_x(MARGIN + half + 10)
        pdf.font(9, muted=True)
        pdf.cell(half / 2, 5.5, label)
        pdf.font(10, bold=True)
        pdf.cell(half / 2, 5.5, value, align=Align.R,
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(top + 16)
    pdf.line(MARGIN, pdf.get_y(), MARGIN + width, pdf.get_y())
    pdf.ln(7)

    # Seller on the left, buyer on the right.
    top = pdf.get_y()
    seller_lines = [seller["name"], *seller.get("address", []), seller.get("email", "")]
    if seller.get("tax_id"):
        seller_lines.append(f"Tax ID: {seller['tax_id']}")
    below_seller = pdf.lines(MARGIN, half, seller_lines, 10, bold_first=True, label="From")
    pdf.set_y(top)
    below_buyer = pdf.lines(MARGIN + half + 10, half, [buyer["name"], buyer.get("email", "")],
                            10, bold_first=True, label="Billed to")
    pdf.set_xy(MARGIN, max(below_seller, below_buyer) + 10)

    # The line item.
    description = (f"Lesson: {lesson['title']} with {tutor['name']}, "
                   f"{_lesson_period(lesson['scheduled_at'], lesson['ends_at'])}")
    amount = money(details["amount"], currency)
    amount_width = max(38, pdf.get_string_width(amount) + 8)
    columns = (width - 18 - amount_width, 18, amount_width)
    pdf.font(10)
    with pdf.table(
        col_widths=columns,
        width=width,
        text_align=(Align.L, Align.C, Align.R),
        v_align="TOP",
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", color=MUTED, fill_color=SHADE, size_pt=9),
        line_height=5.5,
        padding=(2.5, 2),
    ) as table:
        table.row(("Description", "Qty", "Amount"))
        table.row((description, "1", amount))
    y = pdf.get_y()
    pdf.line(MARGIN, y, MARGIN + width, y)

    # Total, right-aligned under the amount column.
    pdf.ln(3)
    label_width = 40
    pdf.set_x(MARGIN + width - amount_width - label_width)
    pdf.font(11, bold=True)
    pdf.cell(label_width, 8, "Total", align=Align.L)
    pdf.font(12, bold=True)
    pdf.cell(amount_width - 2, 8, amount, align=Align.R,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y()
    pdf.line(MARGIN + width - amount_width - label_width, y, MARGIN + width, y)
    pdf.ln(4)
    pdf.font(8.5, muted=True)
    pdf.multi_cell(width - 2, 4.5,  # right edge in line with the amounts
                   f"Of which marketplace fee: {money(details['platform_fee'], currency)}; "
                   f"paid to the tutor: {money(details['tutor_share'], currency)}",
                   align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # Payment reference and lesson id, in small print.
    pdf.ln(12)
    pdf.font(8, bold=True, muted=True)
    pdf.cell(width, 5, "PAID", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(8, muted=True)
    paid_at = _utc(payment["paid_at"])
    for text in (
        f"Paid {_day_time(paid_at)} UTC via Stripe, "
        f"PaymentIntent {payment['stripe_payment_intent_id']}",
        f"Payment ID {payment['id']}",
        f"Lesson ID {lesson['id']}",
    ):
        pdf.multi_cell(width, 4.2, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    return bytes(pdf.output())


if __name__ == "__main__":
    # The payment service draws in a child process (services/payment/invoices.py,
    # render_in_child): the details as JSON on stdin, the PDF on stdout.
    import json
    import sys
    sys.stdout.buffer.write(render(json.load(sys.stdin)))
