"""Celery tasks of the practice app: thin, taking ids, calling a service."""

from celery import shared_task

from practice import services, tombstones, webhooks
from practice.mail import send_email
from practice.models import User

MAIL_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**MAIL_TASK)
def send_email_verification(*, user_id: int, phone: str = "") -> None:
    """Email a registering client the link that proves their address (API.md `auth/register/`)."""
    secret = services.start_email_verification(user_id=user_id, phone=phone)
    if secret is None:
        return
    user = User.objects.get(pk=user_id)
    send_email(
        subject="Confirm your email for Backcare",
        body=(
            f"Hello {user.first_name or ''},\n\nOpen this link and press Confirm to finish signing"
            f" up:\n{services.verification_link(secret)}\n\nIf you did not sign up, do not"
            " confirm: ignore this message and nothing happens.\n"
        ),
        to=[user.email],
    )


@shared_task(**MAIL_TASK)
def send_password_reset(*, user_id: int) -> None:
    """Email a single-use password reset link (issue 13.7)."""
    secret = services.start_password_reset(user_id=user_id)
    if secret is None:
        return
    user = User.objects.get(pk=user_id)
    send_email(
        subject="Reset your Backcare password",
        body=(
            "Someone asked to reset the password of this Backcare account. To choose a new one,"
            f" open:\n{services.password_reset_link(secret)}\n\nThe link works once, for an hour."
            " If it was not you, ignore this message: the password stays as it is.\n"
        ),
        to=[user.email],
    )


@shared_task(**MAIL_TASK)
def send_email_change(*, user_id: int, new_email: str) -> None:
    """Email the new address the link that proves it (issue 13.2); the old one is told too."""
    secret = services.start_email_change(user_id=user_id, new_email=new_email)
    if secret is None:
        return
    user = User.objects.get(pk=user_id)
    send_email(
        subject="Confirm your new email for Backcare",
        body=(
            "Open this link and press Confirm to make this address your Backcare login:\n"
            f"{services.email_change_link(secret)}\n\nIf you did not ask, ignore this message.\n"
        ),
        to=[new_email],
    )
    send_email(
        subject="Your Backcare email is about to change",
        body=(
            "Someone logged in to your account asked to change its email. Nothing changes unless"
            " the new address confirms. If it was not you, reset your password.\n"
        ),
        to=[user.email],
    )


@shared_task
def expire_unverified_accounts() -> int:
    """Beat, hourly: client sign-ups never verified in time are deleted (issue 13.7)."""
    return services.delete_unverified_accounts()


@shared_task
def dispatch_webhooks() -> int:
    """Beat, every minute (and after each event): claim due deliveries, hand them to senders."""
    ids = webhooks.claim_due_deliveries()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_webhook(delivery_id: int) -> str:
    return webhooks.deliver(delivery_id)


@shared_task
def purge_tombstones() -> int:
    """Daily: deletions older than their practice's sync horizon leave the `deleted/` feed."""
    return tombstones.purge_old_tombstones()
