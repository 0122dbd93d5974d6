"""The technique catalog and its contraindication matrix (DOMAIN.md 2c, 5), as per-practice data."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from practice.models import Practice

pressure = [MinValueValidator(1), MaxValueValidator(5)]  # Walton scale 1-5 (DOMAIN.md 5)


class Technique(models.Model):
    """Each practice has its own copy of the nine built-ins, to adjust, plus its own techniques."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="techniques")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=80)
    description = models.TextField(max_length=2000)
    purpose = models.TextField(max_length=2000, blank=True)
    usual_pressure_min = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=pressure
    )
    usual_pressure_max = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=pressure
    )
    usual_minutes_min = models.PositiveSmallIntegerField(validators=[MaxValueValidator(120)])
    usual_minutes_max = models.PositiveSmallIntegerField(validators=[MaxValueValidator(120)])
    is_builtin = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "code"], name="technique_code_unique"),
            models.CheckConstraint(
                condition=Q(usual_minutes_max__gte=F("usual_minutes_min")),
                name="technique_minutes_order",
            ),
            models.CheckConstraint(
                condition=Q(usual_pressure_max__isnull=True)
                | Q(usual_pressure_max__gte=F("usual_pressure_min")),
                name="technique_pressure_order",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Rule(models.TextChoices):
    REFUSE = "refuse"  # ✗ in DOMAIN.md 2c
    LOCAL = "local"  # L: refused on the flagged region/side only
    CAP = "cap"  # ≤n: allowed up to a pressure


class Contraindication(models.Model):
    """One cell of the technique × health-flag matrix; no row means allowed (✓)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    technique = models.ForeignKey(
        Technique, on_delete=models.CASCADE, related_name="contraindications"
    )
    flag = models.CharField(max_length=40)
    rule = models.CharField(max_length=10, choices=Rule.choices)
    max_pressure = models.PositiveSmallIntegerField(null=True, blank=True, validators=pressure)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["flag"]
        constraints = [
            models.UniqueConstraint(fields=["technique", "flag"], name="contraindication_unique"),
            models.CheckConstraint(
                condition=(Q(rule="cap") & Q(max_pressure__isnull=False))
                | (~Q(rule="cap") & Q(max_pressure__isnull=True)),
                name="contraindication_cap_has_pressure",
            ),
        ]


class ContraindicationChange(models.Model):
    """Each change of one technique's column of the matrix, with its rows before and after.

    Only the owner changes the matrix or a technique's usual pressure (DOMAIN.md 0 rule 3; security
    finding 13.4); the access log
    (AuditEvent) names this row, which keeps what changed.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    # The history outlives the technique (kept when it is deleted): its code is kept beside it.
    technique = models.ForeignKey(
        Technique,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contraindication_changes",
    )
    technique_code = models.SlugField(max_length=40, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(default=list)
    after = models.JSONField(default=list)
    # The usual pressure ({"min", "max"} or null) before and after: items without a pressure are
    # checked at its max, so it is the owner's to change, like the rows (DOMAIN.md 2c).
    usual_pressure_before = models.JSONField(null=True, blank=True)
    usual_pressure_after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
