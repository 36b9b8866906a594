"""Soft opt-in: an existing customer mailed about the organisation's own similar products.

No fresh consent is asked (ePrivacy art. 13(2), Telecommunicatiewet 11.7(3)), so the record
must prove every condition: a sale by this organisation (order id, purchase time), an
opt-out offered at the sale (``opt_out_offered: true``), and a purpose the catalogue marks
as own similar products (``soft_opt_in = true``). Prospects never qualify: without an
order there is no soft opt-in. A suppressed address or a withdrawn purpose is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import catalogue
from chalicelib.keys import get_keys
from chalicelib.ledger import Evidence, PurposeWithdrawn, Suppressed, get_ledger, iso, utc_now
from chalicelib.models import SoftOptInRequest, ValidationError, api_errors


@dataclass(frozen=True)
class Outcome:
    """The HTTP status and JSON body to answer: the views only serialise it."""

    status: int
    body: dict[str, Any]


def record(data: dict[str, Any], evidence: Evidence) -> Outcome:
    """Validate and record a soft opt-in: 201 with the contact, 422, or 409."""
    try:
        request = SoftOptInRequest.model_validate(data)
    except ValidationError as exc:
        return Outcome(422, {"errors": api_errors(exc)})
    cat = catalogue.load()
    unknown = [p for p in request.purposes if p not in cat.purposes]
    if unknown:
        return Outcome(422, {"errors": {"purposes": f"unknown purpose: {', '.join(unknown)}"}})
    ineligible = [p for p in request.purposes if not cat.purposes[p].soft_opt_in]
    if ineligible:
        return Outcome(
            422,
            {
                "errors": {
                    "purposes": f"not eligible for soft opt-in: {', '.join(ineligible)}"
                    " (only the organisation's own similar products; ask for consent instead)"
                }
            },
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
    try:
        ledger.record_soft_opt_in(
            subject=subject,
            email=request.email,
            name=request.name,
            lang=request.lang or "nl",
            purposes=request.purposes,
            proof=proof,
            evidence=evidence,
            now=now,
        )
    except Suppressed as exc:
        reason = f" ({exc.reason})" if exc.reason else ""
        return Outcome(409, {"error": f"the address is suppressed{reason}: no soft opt-in"})
    except PurposeWithdrawn as exc:
        return Outcome(
            409, {"error": f"the person withdrew {exc.purpose}: only their own new consent restores it"}
        )
    contact = ledger.contact(subject, now)
    return Outcome(201, contact or {})
