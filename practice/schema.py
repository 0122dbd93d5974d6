"""drf-spectacular extensions: how our bearer authentication and our error body appear in the
OpenAPI schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path of the field, or `non_field_errors`.")
    code = serializers.CharField()
    detail = serializers.CharField()

    class Meta:
        ref_name = "ErrorItem"


class ErrorSerializer(serializers.Serializer):
    """Every 4xx/5xx body (API.md "Errors"); `config.schema` documents it on every operation."""

    code = serializers.CharField(help_text="Machine-readable: `invalid`, `not_found`, ...")
    detail = serializers.CharField(help_text="For humans.")
    errors = ErrorItemSerializer(  # type: ignore[assignment]  # the body's key, not .errors
        many=True, required=False, help_text="Present on a 400 `invalid`: one entry per problem."
    )

    class Meta:
        ref_name = "Error"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "practice.auth.BearerTokenAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A login token (auth/token/) or a practice API key.",
        }
