"""Alerts to the people on call, through the SNS topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class SnsPublisher(Protocol):
    def publish(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One message to the people on call."""

    subject: str
    lines: list[str]
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return "\n".join(self.lines)


def publish(sns: SnsPublisher, topic_arn: str, alert: Alert) -> str:
    """Publish an alert to the SNS topic; returns the message id."""
    attributes = {
        key: {"DataType": "String", "StringValue": value}
        for key, value in alert.attributes.items()
        if value
    }
    answer = sns.publish(
        TopicArn=topic_arn,
        Subject=_subject(alert.subject),
        Message=alert.message,
        MessageAttributes=attributes,
    )
    return str(answer["MessageId"])


def _subject(text: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return clean[:100]
