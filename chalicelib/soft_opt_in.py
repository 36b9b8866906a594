"""Soft opt-in: an existing customer mailed about the organisation's own similar products.

No fresh consent is asked (ePrivacy art. 13(2), Telecommunicatiewet 11.7(3)), so the record
must prove every condition: a sale by this organisation (order id, purchase time), an
opt-out offered at the sale (``opt_out_offered: true``), and a purpose the catalogue marks
as own similar products (``soft_opt_in = true``). Prospects never qualify: without an
order there is no soft opt-in. A suppressed address or a withdrawn purpose is refused.
"""

from __future__ import annotations

from typing import Any

from chalicelib import catalogue
from chalicelib.keys import get_keys
from chalicelib.ledger import Evidence, Person, get_ledger, iso, utc_now
from chalicelib.models import SoftOptInRequest, ValidationError, api_errors
from chalicelib.refusals import Invalid


def record(data: dict[str, Any], evidence: Evidence) -> dict[str, Any]:
    """Validate and record a soft opt-in; the contact as it now stands.

    Raises Invalid (the reason per field), or the ledger's Suppressed or PurposeWithdrawn
    (then nothing is written).
    """
    try:
        request = SoftOptInRequest.model_validate(data)
    except ValidationError as exc:
        raise Invalid(api_errors(exc)) from None
    cat = catalogue.load()
    unknown = [p for p in request.purposes if p not in cat.purposes]
    if unknown:
        raise Invalid({"purposes": f"unknown purpose: {', '.join(unknown)}"})
    ineligible = [p for p in request.purposes if not cat.purposes[p].soft_opt_in]
    if ineligible:
        raise Invalid(
            {
                "purposes": f"not eligible for soft opt-in: {', '.join(ineligible)}"
                " (only the organisation's own similar products; ask for consent instead)"
            }
        )
    proof = {
        "order_id": request.evidence.order_id,
        "purchased_at": iso(request.evidence.purchased_at),
        "opt_out_offered": True,
        "controller": cat.controller.name,
    }
    subject = get_keys().subject_id(request.email)
    ledger = get_ledger()
    now = utc_now()
    ledger.record_soft_opt_in(
        Person(subject, request.email, request.name, request.lang or "nl"),
        purposes=request.purposes,
        proof=proof,
        evidence=evidence,
        now=now,
    )
    return ledger.contact(subject, now) or {}
