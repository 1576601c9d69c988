"""Tutors' payout accounts: Stripe Connect Express accounts the platform
pays out to by hand (docs/payments.md, "Payout accounts")."""
import uuid

from sqlalchemy import select

from services.payment import rules
from services.payment.models import StripeAccount


def account_of(session, tutor_user_id, lock=False):
    query = select(StripeAccount).where(StripeAccount.tutor_user_id == uuid.UUID(str(tutor_user_id)))
    return session.scalars(query.with_for_update() if lock else query).first()


def ready_account(session, tutor_user_id):
    """The tutor's account id if Stripe can pass a charge on to it, else None."""
    account = account_of(session, tutor_user_id)
    return account.stripe_account_id if account is not None and account.onboarding_complete else None


def start_onboarding(uow, stripe, settings, tutor_user_id):
    """Create the tutor's connected account once, and a fresh single-use
    onboarding link each time (Stripe's links expire within minutes)."""
    account = account_of(uow.session, tutor_user_id, lock=True)
    if account is None:
        created = stripe.create_account(str(tutor_user_id), settings.account_country,
                                        idempotency_key="tutor-{}-account".format(tutor_user_id))
        account = StripeAccount(tutor_user_id=uuid.UUID(str(tutor_user_id)), stripe_account_id=created["id"])
        uow.session.add(account)
        _apply(uow, account, created)
    link = stripe.account_link(account.stripe_account_id, settings.onboarding_refresh_url,
                               settings.onboarding_return_url)
    return dict(account_view(account), url=link["url"], expires_at=link["expires_at"])


def apply_update(uow, stripe_account):
    """Stripe's ``account.updated``: keep the account's capabilities."""
    account = uow.session.scalars(select(StripeAccount).where(
        StripeAccount.stripe_account_id == stripe_account["id"]).with_for_update()).first()
    if account is None:
        return None  # another platform's account, or one we never stored
    _apply(uow, account, stripe_account)
    return account_view(account)


def _apply(uow, account, stripe_account):
    before = (account.charges_enabled, account.payouts_enabled, account.details_submitted)
    account.charges_enabled = bool(stripe_account.get("charges_enabled"))
    account.payouts_enabled = bool(stripe_account.get("payouts_enabled"))
    account.details_submitted = bool(stripe_account.get("details_submitted"))
    account.onboarding_complete = rules.onboarding_complete(stripe_account)
    uow.session.flush()
    if before != (account.charges_enabled, account.payouts_enabled, account.details_submitted):
        uow.emit("payout_account_updated", {
            "tutor_user_id": str(account.tutor_user_id), "onboarding_complete": account.onboarding_complete,
            "charges_enabled": account.charges_enabled, "payouts_enabled": account.payouts_enabled,
            "details_submitted": account.details_submitted})


def account_view(account):
    return {"tutor_user_id": str(account.tutor_user_id), "stripe_account_id": account.stripe_account_id,
            "onboarding_complete": account.onboarding_complete, "charges_enabled": account.charges_enabled,
            "payouts_enabled": account.payouts_enabled, "details_submitted": account.details_submitted}


def accounts_for(session, user_ids):
    """{user id: account view or None}."""
    found = {str(a.tutor_user_id): account_view(a) for a in
             session.scalars(select(StripeAccount).where(StripeAccount.tutor_user_id.in_(user_ids)))}
    return {str(u): found.get(str(u)) for u in user_ids}
