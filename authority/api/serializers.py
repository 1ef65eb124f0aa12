"""Authority API shapes: query parameters in, SPEC §4 replies out."""

from __future__ import annotations

from datetime import date
from typing import Any

from rest_framework import serializers

from authority.statistics import GROUPINGS
from core.api.serializers import StrictSerializer

EARLIEST = date(2015, 1, 1)


class PeriodQuerySerializer(StrictSerializer):
    """?from=&to= (ISO dates, from <= to)."""

    # "from" is a Python keyword: declared below under its query name.
    to = serializers.DateField(required=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        for name, value in (("from", start), ("to", end)):
            if value is not None and value < EARLIEST:
                raise serializers.ValidationError({name: ["No refund policy before 2015-01-01."]})
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"from": ["'from' is after 'to'."]})
        return attrs


class StatisticsQuerySerializer(PeriodQuerySerializer):
    """?from=&to=&by= (by: nationality, port, store, category or month)."""

    by = serializers.ChoiceField(choices=list(GROUPINGS))


class RiskQuerySerializer(PeriodQuerySerializer):
    """?from=&to=&signal="""

    signal = serializers.CharField(required=False, max_length=32)


class ConsistencyQuerySerializer(StrictSerializer):
    """?first=&second= (tree sizes of two signed heads, first <= second)."""

    first = serializers.IntegerField(min_value=1, max_value=2**62)
    second = serializers.IntegerField(min_value=1, max_value=2**62)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["first"] > attrs["second"]:
            raise serializers.ValidationError({"first": ["The first head must be the older one."]})
        return attrs


class StatRowSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True)
    forms = serializers.IntegerField()
    travelers = serializers.IntegerField()
    sales = serializers.CharField()
    refundable_vat = serializers.CharField()
    fee = serializers.CharField()
    net_refund = serializers.CharField()


class StatTotalsSerializer(serializers.Serializer):
    forms = serializers.IntegerField()
    travelers = serializers.IntegerField()
    sales = serializers.CharField()
    refundable_vat = serializers.CharField()
    fee = serializers.CharField()
    net_refund = serializers.CharField()


class StatisticsSerializer(serializers.Serializer):
    """SPEC §4 statistics reply (plus the period and grouping it answers)."""

    rows = StatRowSerializer(many=True)
    totals = StatTotalsSerializer()
    by = serializers.CharField()


class HeadSerializer(serializers.Serializer):
    """A signed head: every signed field, its hash and its Ed25519 signature."""

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # "root" is also an attribute of every DRF field: declared here instead.
        fields["root"] = serializers.CharField(help_text="RFC 6962 root of the whole tree")
        return fields

    version = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    batch_root = serializers.CharField()
    prev_head = serializers.CharField()
    created_at = serializers.CharField()
    head_hash = serializers.CharField()
    signature = serializers.CharField()


class ProofEntrySerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    action = serializers.CharField()
    entry_hash = serializers.CharField()
    leaf_index = serializers.IntegerField(allow_null=True)
    audit_path = serializers.ListField(child=serializers.CharField())
    head = HeadSerializer(allow_null=True)
    entry = serializers.DictField(help_text="Every column the entry hash covers.")


class ProofSerializer(serializers.Serializer):
    """SPEC §4 ledger proof: each entry with its RFC 6962 audit path and signed head."""

    format = serializers.CharField()
    record = serializers.DictField()
    entries = ProofEntrySerializer(many=True)
    algorithm = serializers.CharField()
    public_key = serializers.CharField()


class ConsistencySerializer(serializers.Serializer):
    """RFC 6962 §2.1.2 consistency proof between two signed heads."""

    format = serializers.CharField()
    first = HeadSerializer()
    second = HeadSerializer()
    proof = serializers.ListField(child=serializers.CharField())
    algorithm = serializers.CharField()
    public_key = serializers.CharField()


class CaseSerializer(serializers.Serializer):
    signal = serializers.CharField()
    date = serializers.DateField(allow_null=True)
    subject = serializers.CharField()
    detail = serializers.CharField()
    forms = serializers.ListField(child=serializers.CharField())
    stores = serializers.ListField(child=serializers.CharField())
    ports = serializers.ListField(child=serializers.CharField())


class SignalSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["label"] = serializers.CharField()  # "label" is a DRF field attribute too
        return fields

    code = serializers.CharField()
    enabled = serializers.BooleanField()
    pending = serializers.BooleanField()
    threshold = serializers.CharField()
    parameter = serializers.CharField()
    cases = CaseSerializer(many=True)


class RiskSerializer(serializers.Serializer):
    signals = SignalSerializer(many=True)
