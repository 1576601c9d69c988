"""Money as people read it: integer minor units and an ISO code in, text
out ("EUR 40.00", "JPY 4,000", "KWD 1.500"), with integer arithmetic only.
Payment prints it on invoices, communication in notifications and mails."""

# Stripe's zero-decimal and three-decimal currencies; all others have two.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


def decimals(currency):
    """How many minor-unit digits the currency has."""
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def money(amount, currency):
    """``money(4000, "EUR") == "EUR 40.00"``; ``amount`` is an int of minor units."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amount must be an int of minor units")
    code = currency.upper()
    places = decimals(code)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10 ** places)
    text = "{:,}".format(major) + (".{:0{}d}".format(minor, places) if places else "")
    return "{} {}{}".format(code, sign, text)
