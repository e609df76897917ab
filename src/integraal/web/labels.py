"""Names of domain values in the UI language: phases, outcomes, end reasons, disciplines, roles.

Each value is marked with :func:`pgettext_noop` under a context (the kind of value), so the Babel extraction
finds it and a translator sees which "natal" or "integral" is meant. Reasons are not here: their sentences are
data of the rules (``integraal.rules.reasons``), in Dutch and English already.
"""

from __future__ import annotations

import gettext


def N_(text: str) -> str:  # noqa: N802 (the gettext convention extractors look for)
    """Mark ``text`` for extraction; it is translated where it is shown (menu names, for example)."""
    return text


def pgettext_noop(context: str, text: str) -> tuple[str, str]:
    """Mark ``text`` for extraction under ``context``; translated when shown, with :func:`label`."""
    return context, text


LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "phase": {
        "prenatal": pgettext_noop("phase", "prenatal"),
        "natal": pgettext_noop("phase", "birth (natal)"),
        "postnatal": pgettext_noop("phase", "postnatal"),
    },
    "outcome": {
        "integral": pgettext_noop("outcome", "integral"),
        "fallback": pgettext_noop("outcome", "fallback: separate claims"),
        "incomplete": pgettext_noop("outcome", "not yet claimable"),
        "not_applicable": pgettext_noop("outcome", "not applicable"),
    },
    "end_reason": {
        "birth": pgettext_noop("end_reason", "birth"),
        "miscarriage": pgettext_noop("end_reason", "miscarriage"),
        "termination": pgettext_noop("end_reason", "termination of pregnancy"),
        "moved_away": pgettext_noop("end_reason", "moved away"),
        "switched_provider": pgettext_noop("end_reason", "switched to a provider outside the IGO"),
        "maternal_death": pgettext_noop("end_reason", "maternal death"),
    },
    "referral_stage": {
        "intake": pgettext_noop("referral_stage", "at intake (medical indication)"),
        "pregnancy": pgettext_noop("referral_stage", "during pregnancy"),
        "labour": pgettext_noop("referral_stage", "during labour"),
    },
    "discipline": {
        "midwife": pgettext_noop("discipline", "midwife practice"),
        "hospital": pgettext_noop("discipline", "hospital obstetrics"),
        "gynaecologist": pgettext_noop("discipline", "gynaecologist"),
        "kraamzorg": pgettext_noop("discipline", "maternity care (kraamzorg)"),
        "ultrasound": pgettext_noop("discipline", "ultrasound centre"),
        "lab": pgettext_noop("discipline", "laboratory"),
        "gp": pgettext_noop("discipline", "general practitioner"),
        "paediatrics": pgettext_noop("discipline", "paediatrics"),
    },
    "disposition": {
        "claimed": pgettext_noop("disposition", "on a claim line"),
        "excluded": pgettext_noop("disposition", "excluded"),
        "reported": pgettext_noop("disposition", "reported"),
    },
    "claim_kind": {
        "integral": pgettext_noop("claim_kind", "integral (IGO)"),
        "mono": pgettext_noop("claim_kind", "monodisciplinary (member)"),
    },
    "tariff_source": {
        "contract": pgettext_noop("tariff_source", "contract"),
        "nza": pgettext_noop("tariff_source", "NZa maximum tariff"),
        "estimate": pgettext_noop("tariff_source", "estimate"),
    },
    "next_action": {
        "fix_and_resend": pgettext_noop("next_action", "correct the data and send again"),
        "credit": pgettext_noop("next_action", "credit the line"),
        "write_off": pgettext_noop("next_action", "write off"),
        "ask_member": pgettext_noop("next_action", "ask the member"),
        "rebundle": pgettext_noop("next_action", "bundle broken: decided again, members claim"),
        "none": pgettext_noop("next_action", "nothing"),
    },
    "batch_state": {
        "ready": pgettext_noop("batch_state", "ready to send"),
        "sent": pgettext_noop("batch_state", "sent"),
        "returned": pgettext_noop("batch_state", "answered"),
    },
    "profile": {
        "low_risk_primary": pgettext_noop("profile", "low risk, stayed in primary care"),
        "referred_pregnancy": pgettext_noop("profile", "referred during pregnancy"),
        "referred_labour": pgettext_noop("profile", "referred during labour"),
        "medical_indication": pgettext_noop("profile", "medical indication from the start"),
        "ended_early": pgettext_noop("profile", "ended early (miscarriage, termination)"),
    },
    "role": {
        "igo_admin": pgettext_noop("role", "back office"),
        "igo_board": pgettext_noop("role", "board"),
        "member": pgettext_noop("role", "member provider"),
        "insurer": pgettext_noop("role", "insurer"),
        "analyst": pgettext_noop("role", "analyst"),
        "superuser": pgettext_noop("role", "administrator"),
    },
    "direction": {
        "lower_is_better": pgettext_noop("direction", "lower is better"),
        "higher_is_better": pgettext_noop("direction", "higher is better"),
        "none": pgettext_noop("direction", "no better or worse (a choice)"),
    },
    "position": {
        "within": pgettext_noop("position", "within the limits"),
        "above": pgettext_noop("position", "above the upper limit"),
        "below": pgettext_noop("position", "below the lower limit"),
    },
    "casemix_group": {
        "phase": pgettext_noop("casemix", "phase"),
        "profile": pgettext_noop("casemix", "client profile"),
        "prestatie": pgettext_noop("casemix", "integral prestatie"),
        "referral_stage": pgettext_noop("casemix", "referral moment"),
        "discipline": pgettext_noop("casemix", "discipline"),
        "claimant": pgettext_noop("casemix", "claimant"),
        "reason": pgettext_noop("casemix", "cause"),
    },
    "financing": {
        "integraal": pgettext_noop("financing", "claimed as integral prestaties (IGO)"),
        "gescheiden": pgettext_noop("financing", "claimed separately per discipline"),
    },
}


def label(translations: gettext.NullTranslations, kind: str, value: str | None) -> str:
    """The name of ``value`` (of ``kind``) in the language of ``translations``; unknown values as they are."""
    if value is None:
        return ""
    marked = LABELS.get(kind, {}).get(value)
    if marked is None:
        return value
    context, text = marked
    return translations.pgettext(context, text)
