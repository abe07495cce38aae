from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests.factories import ConnectionFactory
from tests.labclient import ACCESS_KEY, SECRET_KEY, LabProcess, start_lab

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tls_lab(tmp_path_factory) -> Iterator[LabProcess]:
    process = start_lab(tmp_path_factory.mktemp("tls-lab"), "--tls", "--vms", "2")
    yield process
    process.stop()


def _test(personas, **fields):
    connection = ConnectionFactory(
        team=personas.team, access_key=ACCESS_KEY, secret=SECRET_KEY, **fields
    )
    response = personas.client_for(personas.operator).post(
        reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )
    return response.content.decode()


def test_an_untrusted_certificate_is_a_tls_error(personas, tls_lab):
    assert "TLS error" in _test(personas, base_url=tls_lab.base_url)


def test_a_custom_ca_bundle_makes_it_trusted(personas, tls_lab):
    bundle = tls_lab.ca_path.read_text()
    assert "Connected" in _test(personas, base_url=tls_lab.base_url, ca_bundle=bundle)


def test_skipping_verification_works_and_is_flagged(personas, tls_lab):
    body = _test(personas, base_url=tls_lab.base_url, verify_tls=False)
    assert "Connected" in body and "TLS not verified" in body


def test_an_unknown_host_is_a_dns_error(personas):
    assert "DNS error" in _test(personas, base_url="https://qrc-test.invalid:4430")
