"""bench/mutation.py reads mutmut's results into per-module scores."""

from __future__ import annotations

from bench.mutation import module_of, report

RESULTS = """
    services.ingest.webhook.x_verify_hmac__mutmut_1: killed
    services.ingest.webhook.x_verify_hmac__mutmut_2: survived
    services.ingest.webhook.xǁWebhookRejectedǁ__init____mutmut_1: killed
    services.mapper.accounting.vat.x_vat_rate__mutmut_4: no tests
    services.mapper.accounting.vat.x_vat_rate__mutmut_5: killed
"""


def test_a_mutants_module_is_its_name_without_the_function() -> None:
    assert module_of("services.ingest.webhook.x_verify_hmac__mutmut_2") == "services.ingest.webhook"
    name = "services.ingest.webhook.xǁWebhookRejectedǁ__init____mutmut_1"
    assert module_of(name) == "services.ingest.webhook"


def test_scores_count_killed_over_all_and_over_the_mutants_the_tests_reach() -> None:
    figures = report(RESULTS)
    assert figures["mutants"] == 5 and figures["killed"] == 3
    assert figures["score"] == 0.6 and figures["score_of_reached"] == 0.75
    webhook = figures["modules"]["services.ingest.webhook"]
    assert webhook["survivors"] == ["services.ingest.webhook.x_verify_hmac__mutmut_2"]
    assert webhook["score"] == round(2 / 3, 3)
    vat = figures["modules"]["services.mapper.accounting.vat"]
    assert vat["no_tests"] == 1 and vat["score"] == 0.5 and vat["score_of_reached"] == 1.0
