"""The words of every page and mail, in Dutch and English, and choosing between them."""

from __future__ import annotations

from chalicelib.catalogue import LANGUAGES

MESSAGES: dict[str, dict[str, str]] = {
    "nl": {
        "form_title": "Aanmelden",
        "form_intro": "Kies waarvoor u mails van ons wilt ontvangen. Niets is vooraf aangevinkt.",
        "controller": "Verwerkingsverantwoordelijke",
        "email": "E-mailadres",
        "email_hint": "Verplicht. Alleen uw e-mailadres is nodig.",
        "name": "Naam (niet verplicht)",
        "purposes": "Waarvoor geeft u toestemming?",
        "withdraw_any_time": (
            "U kunt uw toestemming op elk moment intrekken, met één klik onderaan elke mail"
            " of via de link in de bevestigingsmail."
        ),
        "privacy_notice": "Lees onze privacyverklaring",
        "privacy_before": "Hoe wij met uw gegevens omgaan:",
        "submit": "Aanmelden",
        "errors_title": "Controleer de gemarkeerde velden.",
        "check_inbox_title": "Kijk in uw inbox",
        "check_inbox": (
            "Als het adres klopt, ontvangt u zo een mail met een bevestigingslink."
            " Pas na uw bevestiging sturen wij u iets."
        ),
        "confirm_title": "Aanmelding bevestigen",
        "confirm_intro": "Klik op de knop om uw aanmelding te bevestigen voor:",
        "confirm_button": "Ja, ik bevestig mijn aanmelding",
        "confirmed_title": "Bevestigd",
        "confirmed": "Dank u. Uw aanmelding is bevestigd.",
        "already_confirmed": "Deze aanmelding was al bevestigd. Er is niets veranderd.",
        "right_to_object": (
            "U heeft het recht bezwaar te maken tegen profilering (bijvoorbeeld het afleiden"
            " van uw kledingmaat uit eerdere bestellingen). Dat kan via de afmeldlink"
            " onderaan elke mail; de nieuwsbrief blijft dan gewoon komen."
        ),
        "expired_title": "Deze link is verlopen",
        "expired": (
            "Deze bevestigingslink is niet meer geldig. Meld u opnieuw aan om een nieuwe link te ontvangen."
        ),
        "new_link": "Opnieuw aanmelden",
        "invalid_title": "Ongeldige link",
        "invalid": "Deze link is niet geldig. Controleer of u de volledige link uit de mail gebruikt.",
        "not_found_title": "Niet gevonden",
        "not_found": "Dit formulier bestaat niet.",
        "mail_subject": "Bevestig uw aanmelding bij {controller}",
        "mail_greeting": "Beste {name},",
        "mail_greeting_anonymous": "Hallo,",
        "mail_request": "Iemand (hopelijk u) heeft dit adres aangemeld bij {controller} voor:",
        "mail_action": "Bevestig uw aanmelding via deze link:",
        "mail_ignore": (
            "Heeft u zich niet aangemeld? Doe dan niets: zonder bevestiging ontvangt u niets"
            " en wordt uw adres na {days} dagen gewist."
        ),
        "mail_expiry": "De link is {days} dagen geldig.",
        "throttled_title": "Even geduld",
        "throttled": "Er komen te veel aanmeldingen van dit netwerk. Probeer het over een uur opnieuw.",
        # saying no
        "prefs_title": "Uw e-mailvoorkeuren",
        "prefs_intro": (
            "Kies welke mails u wilt blijven ontvangen. Wat u uitvinkt, stopt meteen;"
            " u hoeft geen reden te geven."
        ),
        "prefs_purposes": "Mails die u van ons ontvangt",
        "prefs_save": "Keuzes opslaan",
        "prefs_saved": "Uw keuzes zijn opgeslagen.",
        "prefs_unchanged": "Er was niets te veranderen.",
        "prefs_resubscribe": (
            "Een mail waarvoor u bent afgemeld zet u hier niet weer aan: meld u daarvoor opnieuw"
            " aan via het aanmeldformulier, dan krijgt u een bevestigingsmail."
        ),
        "prefs_signup_again": "Naar het aanmeldformulier",
        "state_granted": "u ontvangt deze mails",
        "state_pending": "wacht op uw bevestiging",
        "state_withdrawn": "afgemeld",
        "state_none": "niet aangemeld",
        "profiling_title": "Bezwaar tegen profilering",
        "profiling_right": (
            "U heeft altijd het recht bezwaar te maken tegen profilering voor direct marketing,"
            " zoals het afleiden van uw kledingmaat uit eerdere bestellingen. Na uw bezwaar"
            " stoppen wij daar meteen mee en gebruiken wij zulke afgeleide gegevens niet meer."
            " U hoeft geen reden te geven, en de mails die u wilt houden blijven gewoon komen."
        ),
        "profiling_allowed_now": "Op dit moment mogen wij uw gegevens gebruiken voor profilering.",
        "profiling_objected_now": "U heeft bezwaar gemaakt: wij profileren u niet.",
        "profiling_object": "Ik maak bezwaar tegen profilering",
        "profiling_allow": "Profilering weer toestaan",
        "everything_title": "Afmelden voor alles",
        "everything_intro": ("U ontvangt dan geen enkele marketingmail meer van ons. Dit gaat meteen in."),
        "everything_button": "Afmelden voor alles",
        "unsubscribed_title": "U bent afgemeld",
        "unsubscribed_one": "U ontvangt geen mails meer voor: {purpose}. Dit is meteen ingegaan.",
        "unsubscribed_all": "U ontvangt geen marketingmails meer van ons. Dit is meteen ingegaan.",
        "unsubscribed_before": "U was al afgemeld. Er is niets veranderd.",
        "manage_link": "Uw voorkeuren bekijken",
    },
    "en": {
        "form_title": "Sign up",
        "form_intro": "Choose what you would like to receive from us. Nothing is ticked in advance.",
        "controller": "Controller",
        "email": "Email address",
        "email_hint": "Required. Only your email address is needed.",
        "name": "Name (optional)",
        "purposes": "What do you consent to?",
        "withdraw_any_time": (
            "You can withdraw your consent at any time, with one click at the bottom of every"
            " mail or through the link in the confirmation mail."
        ),
        "privacy_notice": "Read our privacy notice",
        "privacy_before": "How we handle your data:",
        "submit": "Sign up",
        "errors_title": "Please check the marked fields.",
        "check_inbox_title": "Check your inbox",
        "check_inbox": (
            "If the address is right, you will shortly receive a mail with a confirmation link."
            " We send you nothing else until you confirm."
        ),
        "confirm_title": "Confirm your signup",
        "confirm_intro": "Press the button to confirm your signup for:",
        "confirm_button": "Yes, I confirm my signup",
        "confirmed_title": "Confirmed",
        "confirmed": "Thank you. Your signup is confirmed.",
        "already_confirmed": "This signup was already confirmed. Nothing has changed.",
        "right_to_object": (
            "You have the right to object to profiling (for example inferring your clothing"
            " size from earlier orders). Use the unsubscribe link at the bottom of every mail;"
            " the newsletter itself keeps coming."
        ),
        "expired_title": "This link has expired",
        "expired": "This confirmation link is no longer valid. Sign up again to get a new link.",
        "new_link": "Sign up again",
        "invalid_title": "Invalid link",
        "invalid": "This link is not valid. Check that you used the whole link from the mail.",
        "not_found_title": "Not found",
        "not_found": "This form does not exist.",
        "mail_subject": "Confirm your signup with {controller}",
        "mail_greeting": "Dear {name},",
        "mail_greeting_anonymous": "Hello,",
        "mail_request": "Someone (hopefully you) signed this address up with {controller} for:",
        "mail_action": "Confirm your signup with this link:",
        "mail_ignore": (
            "Did not sign up? Then do nothing: without confirmation you receive nothing and the"
            " address is erased after {days} days."
        ),
        "mail_expiry": "The link is valid for {days} days.",
        "throttled_title": "Please wait",
        "throttled": "Too many signups are coming from this network. Please try again in an hour.",
        # saying no
        "prefs_title": "Your email preferences",
        "prefs_intro": (
            "Choose which mails you want to keep receiving. What you untick stops at once; no reason needed."
        ),
        "prefs_purposes": "Mails you receive from us",
        "prefs_save": "Save my choices",
        "prefs_saved": "Your choices are saved.",
        "prefs_unchanged": "Nothing needed changing.",
        "prefs_resubscribe": (
            "A mail you unsubscribed from cannot be turned back on here: sign up again through"
            " the signup form and you will get a confirmation mail."
        ),
        "prefs_signup_again": "Go to the signup form",
        "state_granted": "you receive these mails",
        "state_pending": "awaiting your confirmation",
        "state_withdrawn": "unsubscribed",
        "state_none": "not signed up",
        "profiling_title": "Objection to profiling",
        "profiling_right": (
            "You have the right to object at any time to profiling for direct marketing, such"
            " as inferring your clothing size from earlier orders. After your objection we stop"
            " at once and no longer use such derived data. No reason is needed, and the mails"
            " you want to keep keep coming."
        ),
        "profiling_allowed_now": "At the moment we may use your data for profiling.",
        "profiling_objected_now": "You have objected: we do not profile you.",
        "profiling_object": "I object to profiling",
        "profiling_allow": "Allow profiling again",
        "everything_title": "Unsubscribe from everything",
        "everything_intro": (
            "You will then receive no marketing mail from us at all. This takes effect at once."
        ),
        "everything_button": "Unsubscribe from everything",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_one": "You will no longer receive mails for: {purpose}. This took effect at once.",
        "unsubscribed_all": "You will no longer receive marketing mail from us. This took effect at once.",
        "unsubscribed_before": "You were already unsubscribed. Nothing has changed.",
        "manage_link": "See your preferences",
    },
}


def choose_language(
    requested: str | None, accept_language: str | None, offered: tuple[str, ...], default: str
) -> str:
    """?lang= first, then the browser's Accept-Language order, then the form's default."""
    if requested in offered:
        return requested  # type: ignore[return-value]
    ranked: list[tuple[float, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, f"{index:02d}{tag.strip().lower()[:2]}"))
    for _, key in sorted(ranked):
        lang = key[2:]
        if lang in offered and lang in LANGUAGES:
            return lang
    return default
