"""Techniques with their contraindications (API.md "Techniques"; DOMAIN.md 2c, 5)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.tenancy import PracticeModelSerializer
from practice.vocabulary import HEALTH_FLAGS
from techniques.models import ContraindicationChange, Rule, Technique


class RangeSerializer(StrictSerializer):
    min = serializers.IntegerField(min_value=0, max_value=120)
    max = serializers.IntegerField(min_value=0, max_value=120)

    def validate(self, attrs) -> dict[str, Any]:
        if attrs["max"] < attrs["min"]:
            raise serializers.ValidationError({"max": "Must not be below min."})
        return attrs


class PressureRangeSerializer(RangeSerializer):
    min = serializers.IntegerField(min_value=1, max_value=5)
    max = serializers.IntegerField(min_value=1, max_value=5)


class ContraindicationSerializer(StrictSerializer):
    flag = serializers.ChoiceField(choices=HEALTH_FLAGS)
    rule = serializers.ChoiceField(choices=Rule.choices)
    max_pressure = serializers.IntegerField(
        min_value=1, max_value=5, required=False, allow_null=True
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TechniqueSerializer(PracticeModelSerializer):
    """`usual_pressure` (Walton 1-5) and `usual_minutes` are `{"min", "max"}` ranges."""

    # Not source="*": that merges both ranges' `min`/`max` into one dict (the second overwrites the
    # first) and ignores allow_null. Each range arrives under its own name; `_flatten` maps it.
    usual_pressure = PressureRangeSerializer(required=False, allow_null=True)
    usual_minutes = RangeSerializer()
    contraindications = ContraindicationSerializer(many=True, required=False)

    class Meta:
        model = Technique
        fields = [
            "id",
            "code",
            "name",
            "description",
            "purpose",
            "usual_pressure",
            "usual_minutes",
            "is_builtin",
            "contraindications",
        ]
        read_only_fields = ["id", "is_builtin"]

    def to_representation(self, technique: Technique) -> Any:
        has_pressure = technique.usual_pressure_min is not None
        return {
            "id": technique.pk,
            "code": technique.code,
            "name": technique.name,
            "description": technique.description,
            "purpose": technique.purpose,
            "usual_pressure": {
                "min": technique.usual_pressure_min,
                "max": technique.usual_pressure_max,
            }
            if has_pressure
            else None,
            "usual_minutes": {
                "min": technique.usual_minutes_min,
                "max": technique.usual_minutes_max,
            },
            "is_builtin": technique.is_builtin,
            "contraindications": [
                {
                    "flag": row.flag,
                    "rule": row.rule,
                    "max_pressure": row.max_pressure,
                    "note": row.note,
                }
                for row in technique.contraindications.all()
            ],
        }

    def validate_code(self, code) -> Any:
        request = self.context["request"]
        if Technique.objects.filter(practice=request.practice, code=code).exists():
            raise serializers.ValidationError(
                "This practice already has a technique with this code.", code="unique"
            )
        return code

    def service_kwargs(self) -> dict:
        """The validated body as the techniques services take it: ranges flattened to columns,
        `contraindications` only when the body names them. This serializer never writes."""
        validated = dict(self.validated_data)
        pressure = validated.pop("usual_pressure", "absent")
        minutes = validated.pop("usual_minutes", None)
        if pressure is None:
            validated["usual_pressure_min"] = validated["usual_pressure_max"] = None
        elif pressure != "absent":
            validated["usual_pressure_min"], validated["usual_pressure_max"] = (
                pressure["min"],
                pressure["max"],
            )
        if minutes:
            validated["usual_minutes_min"], validated["usual_minutes_max"] = (
                minutes["min"],
                minutes["max"],
            )
        return validated


class TechniqueUpdateSerializer(TechniqueSerializer):
    """A PATCH: everything but `code`, which plans and exports refer to techniques by. Its own
    class, so that the schema of the PATCH body leaves `code` out as the code does."""

    class Meta(TechniqueSerializer.Meta):
        read_only_fields = [*TechniqueSerializer.Meta.read_only_fields, "code"]


class ContraindicationChangeSerializer(serializers.ModelSerializer):
    """One change of a technique's matrix column or usual pressure: who, when, before and after."""

    changed_at = AwareDateTimeField(read_only=True)
    before = ContraindicationSerializer(many=True, read_only=True)
    after = ContraindicationSerializer(many=True, read_only=True)
    usual_pressure_before = PressureRangeSerializer(read_only=True, allow_null=True)
    usual_pressure_after = PressureRangeSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ContraindicationChange
        fields = [
            "id",
            "technique_code",
            "changed_by",
            "changed_at",
            "before",
            "after",
            "usual_pressure_before",
            "usual_pressure_after",
        ]
        read_only_fields = fields
