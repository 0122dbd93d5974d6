"""Reminders (read-only), the public follow-up question, and the unsubscribe link."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.errors import NotFound
from practice.models import CLINICAL_ROLES, AuditAction, Role
from practice.tenancy import CLINICAL, READ, TenantReadOnlyModelViewSet, log_access
from sessions.api.views import PublicThrottle
from sessions.records import follow_ups
from sessions.scheduling import reminders
from sessions.scheduling.models import Reminder, ReminderKind, ReminderStatus

# Internal hand-over states read as "scheduled" in the API (API.md "Reminders" statuses).
PUBLIC_STATUS: dict[str, str] = {
    ReminderStatus.QUEUED: "scheduled",
    ReminderStatus.SENDING: "scheduled",
}


class ReminderSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    scheduled_for = AwareDateTimeField()
    sent_at = AwareDateTimeField(allow_null=True)

    class Meta:
        model = Reminder
        fields = [
            "id",
            "appointment",
            "client",
            "kind",
            "channel",
            "scheduled_for",
            "status",
            "sent_at",
            "attempts",
            "last_error",
        ]
        read_only_fields = fields

    def get_status(self, reminder: Reminder) -> str:
        return PUBLIC_STATUS.get(reminder.status, reminder.status)


class ReminderViewSet(TenantReadOnlyModelViewSet):
    queryset = Reminder.objects.all()
    serializer_class = ReminderSerializer
    access = {**CLINICAL, Role.FRONT_DESK: READ, Role.CLIENT: READ}
    filterset_fields = ["appointment", "client", "kind", "channel", "status"]
    ordering_fields = ["scheduled_for", "id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        # An alert's message is clinical and addressed to clinicians: not the client's nor the
        # front desk's to see, even as a delivery row.
        if self.request.role not in CLINICAL_ROLES:
            queryset = queryset.exclude(kind=ReminderKind.ALERT)
        # "Your online booking was not made" says why a client may not book online (an open
        # referral, a restricted record): the client's own to see, not the front desk's or a key's.
        if self.request.role not in {*CLINICAL_ROLES, Role.CLIENT}:
            queryset = queryset.exclude(kind=ReminderKind.ONLINE_BLOCKED)
        return queryset


# DOMAIN.md 2a/6: the nine screening questions as optional checkboxes, in plain words.
FOLLOW_UP_RED_FLAG_WORDING = {
    "saddle_numbness": "Numbness around your bottom, genitals or inner thighs",
    "bladder_bowel_change": "New trouble starting or stopping urine, leaking, or bowel accidents",
    "bilateral_leg_symptoms": "Pain, numbness or tingling in both legs",
    "progressive_weakness": "Leg weakness or numbness that is getting worse",
    "major_trauma": "A fall or accident since your visit",
    "cancer_history": "A new diagnosis of cancer",
    "unexplained_weight_loss": "Weight loss you cannot explain",
    "fever_or_infection": "Fever, chills or an infection",
    "unremitting_night_pain": "Pain at night that does not ease whatever you do",
}


class FollowUpRedFlagsSerializer(StrictSerializer):
    saddle_numbness = serializers.BooleanField(required=False)
    bladder_bowel_change = serializers.BooleanField(required=False)
    bilateral_leg_symptoms = serializers.BooleanField(required=False)
    progressive_weakness = serializers.BooleanField(required=False)
    major_trauma = serializers.BooleanField(required=False)
    cancer_history = serializers.BooleanField(required=False)
    unexplained_weight_loss = serializers.BooleanField(required=False)
    fever_or_infection = serializers.BooleanField(required=False)
    unremitting_night_pain = serializers.BooleanField(required=False)


class FollowUpAnswerSerializer(StrictSerializer):
    pain = serializers.IntegerField(min_value=0, max_value=10)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    red_flags = FollowUpRedFlagsSerializer(required=False)


class FollowUpQuestionSerializer(serializers.Serializer):
    question = serializers.CharField()
    practice = serializers.CharField()
    answered = serializers.BooleanField()
    red_flags = serializers.DictField(child=serializers.CharField())


class FollowUpView(APIView):
    """`public/follow-ups/{token}/`: no login; the token in the message is the credential."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)

    @extend_schema(responses={200: FollowUpQuestionSerializer})
    def get(self, request, token) -> Response:
        reminder = reminders.follow_up_for_token(token)
        if reminder is None or not reminders.follow_up_is_open(reminder):
            raise NotFound("This link is invalid or has expired.")
        return Response(
            {
                "question": "How is your back today, from 0 (no pain) to 10 (worst imaginable)?",
                "practice": reminder.practice.name,
                "answered": reminder.answered_at is not None,
                "red_flags": FOLLOW_UP_RED_FLAG_WORDING,
            }
        )

    @extend_schema(request=FollowUpAnswerSerializer, responses={201: None})
    def post(self, request, token) -> Response:
        incoming = FollowUpAnswerSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        answer = follow_ups.answer_follow_up(token=token, **incoming.validated_data)
        # Audited like a staff write (DOMAIN.md 8): no user, the link's practice and client; a
        # red-flag answer changed the complaint's screening too.
        request.practice = answer.practice
        log_access(
            request,
            AuditAction.CREATE,
            "follow_up_answer",
            [answer.pk],
            client_ids=[answer.client_id],
        )
        if answer.complaint_id and (answer.red_flags or answer.text_red_flags):
            log_access(
                request,
                AuditAction.UPDATE,
                "complaint",
                [answer.complaint_id],
                client_ids=[answer.client_id],
            )
        return Response({"detail": "Thank you."}, status=status.HTTP_201_CREATED)


class UnsubscribeSerializer(serializers.Serializer):
    unsubscribed = serializers.BooleanField()
    detail = serializers.CharField()


class UnsubscribeView(APIView):
    """The unsubscribe link: GET shows what pressing the button does and changes nothing (mail
    scanners fetch links, issue 13.1's class); POST unsubscribes (also RFC 8058 one-click)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)

    @extend_schema(request=None, responses={200: UnsubscribeSerializer})
    def get(self, request, token) -> Response:
        client = reminders.client_for_unsubscribe(token)
        if client is None:
            raise NotFound("Unknown link.")
        return Response(
            UnsubscribeSerializer(
                {
                    "unsubscribed": client.reminders_opt_out,
                    "detail": "POST to this address to stop reminders."
                    if not client.reminders_opt_out
                    else "You will not receive reminders any more.",
                }
            ).data
        )

    @extend_schema(request=None, responses={200: UnsubscribeSerializer})
    def post(self, request, token) -> Response:
        reminders.unsubscribe(token=token)
        return Response(
            UnsubscribeSerializer(
                {"unsubscribed": True, "detail": "You will not receive reminders any more."}
            ).data
        )
