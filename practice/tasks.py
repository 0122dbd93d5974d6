"""Celery tasks of the practice app: thin, taking ids, calling a service."""

from celery import shared_task
from django.core.mail import send_mail

from practice import tombstones
from practice.models import User
from practice.services import start_email_verification, verification_link


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_email_verification(*, user_id: int, phone: str = "") -> None:
    """Email a registering client the link that proves their address (API.md `auth/register/`)."""
    secret = start_email_verification(user_id=user_id, phone=phone)
    if secret is None:
        return
    user = User.objects.get(pk=user_id)
    send_mail(
        subject="Confirm your email for Backcare",
        message=(
            f"Hello {user.first_name or ''},\n\nConfirm your email address to finish signing up:\n"
            f"{verification_link(secret)}\n\nIf you did not sign up, ignore this message.\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )


@shared_task
def dispatch_webhooks() -> int:
    """Beat, every minute (and after each event): claim due deliveries, hand them to senders."""
    from practice import webhooks

    ids = webhooks.claim_due()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_webhook(delivery_id: int) -> str:
    from practice import webhooks

    return webhooks.deliver(delivery_id)


@shared_task
def purge_tombstones() -> int:
    """Daily: deletions older than their practice's sync horizon leave the `deleted/` feed."""
    return tombstones.purge_tombstones()
