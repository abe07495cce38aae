"""A platform client's errors (platforms/clients/errors.py, base.py) in the reader's language:
shown at once on a page, stored in English and read later in Chinese; the platform's own words
kept as the platform wrote them."""

from __future__ import annotations

import json

import pytest
import requests
from django.urls import reverse
from django.utils import translation

from platforms.clients.base import HttpClient
from platforms.clients.errors import PlatformError, transport_error
from recovery.models import Recovery
from recovery.texts import Text, platform_text
from tests.factories import ConnectionFactory, RecoveryFactory

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
DNS_EN = "The platform's host name does not resolve (DNS). Check the base URL"
DNS_ZH = "平台的主机名无法解析（DNS）。请检查基础 URL"


def _dns_error():
    # What requests raises for a host name that does not resolve (urllib3's wording).
    failure = requests.exceptions.ConnectionError("NameResolutionError: Name or service not known")
    return transport_error(failure, "GET", "/janus/20240725/servers", 10)


def test_a_dns_failure_on_the_drill_form_is_chinese(personas) -> None:
    # .invalid never resolves (RFC 6761): the client's DNS error, not a mock.
    connection = ConnectionFactory(team=personas.team, base_url="https://qr-nowhere.invalid:4430")
    client = personas.client_for(personas.manager)
    url = f"{reverse('drill-create')}?connection={connection.pk}"
    page = client.get(url, **ZH).content.decode()
    assert DNS_ZH in page and DNS_EN not in page
    assert "请稍后重试" in page and "。。" not in page  # one full stop between the two sentences


def test_the_english_dns_failure_is_worded_as_before() -> None:
    error = _dns_error()
    assert error.message == f"{DNS_EN}."
    assert error.kind == "dns" and not error.permanent
    assert str(error) == f"{DNS_EN}. (GET /janus/20240725/servers)"
    with translation.override("zh-hans"):
        assert str(platform_text(error)) == f"{DNS_ZH}。"
        assert str(platform_text(error, where=True)) == f"{DNS_ZH}。（GET /janus/20240725/servers）"
        assert platform_text(error) == error.message  # compared as its English sentence


def test_a_stored_platform_failure_is_english_in_its_column_and_chinese_to_read() -> None:
    recovery = RecoveryFactory()
    error = _dns_error()
    recovery.error_message = Text(
        "Waiting for the platform: %(message)s", message=platform_text(error)
    )
    recovery.save()
    stored = Recovery.objects.get(pk=recovery.pk)
    assert Recovery.objects.filter(error_message=f"Waiting for the platform: {DNS_EN}.").exists()
    with translation.override("zh-hans"):
        shown = str(stored.error_message)
    assert DNS_ZH in shown and "DNS). Check" not in shown


def test_the_platforms_own_words_are_kept_as_it_wrote_them() -> None:
    said = "用户名或密码错误"  # a Chinese SCP's own message
    answer = requests.Response()  # the HTTP seam: what a Chinese SCP answers
    answer.status_code = 401
    answer._content = json.dumps({"code": 401, "message": said}).encode()
    with pytest.raises(PlatformError) as raised:
        HttpClient._unwrap(answer, "GET", "/janus/20240725/servers")
    error = raised.value
    assert error.platform_message == said
    assert error.message == f"The platform refused the credentials (401): {said}"
    with translation.override("zh-hans"):
        assert str(platform_text(error)) == f"平台拒绝了凭据（401）：{said}"
