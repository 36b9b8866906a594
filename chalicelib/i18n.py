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
        "challenge_unavailable": "De controle tegen spam werkt even niet. Probeer het zo opnieuw.",
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
        # proof and rights
        "mail_request_import": (
            "{controller} wil u graag mailen, maar alleen als u dat zelf wilt. Wij kregen dit adres"
            " zonder bewijs van uw toestemming en sturen u daarom niets, tenzij u bevestigt dat u"
            " dit wilt ontvangen:"
        ),
        "requests_title": "Uw gegevens inzien of laten wissen",
        "requests_intro": (
            "Vul uw e-mailadres in. Hebben wij gegevens over dit adres, dan sturen wij er een mail"
            " met een link naartoe. Pas als u op die link de knop gebruikt, gebeurt er iets."
        ),
        "request_type": "Wat wilt u?",
        "request_access": (
            "Een kopie van alle gegevens die u over mij heeft, als bestand (inzage, art. 15 en 20 AVG)"
        ),
        "request_erasure": "Wis al mijn gegevens (art. 17 AVG)",
        "request_submit": "Verstuur",
        "request_received_title": "Verzoek ontvangen",
        "request_received": (
            "Als wij gegevens over dit adres hebben, ontvangt u zo een mail met een link."
            " De link is {days} dagen geldig. Kreeg u al eerder zo'n link? Die blijft werken."
        ),
        "request_access_title": "Uw gegevens downloaden",
        "request_access_intro": (
            "Met de knop downloadt u alle gegevens die wij over u hebben als JSON-bestand: uw adres,"
            " uw keuzes per doel, uw bezwaar tegen profilering, en de volledige geschiedenis met"
            " de exacte teksten waarmee u instemde."
        ),
        "request_access_button": "Download mijn gegevens",
        "request_erasure_title": "Uw gegevens wissen",
        "request_erasure_intro": (
            "Met de knop wist u al uw gegevens: uw adres, uw naam, uw keuzes en hun geschiedenis."
            " Dit kan niet ongedaan worden gemaakt en u ontvangt daarna geen mail meer van ons."
        ),
        "request_erasure_marker": (
            "Wij houden alleen een onleesbare code over (een versleutelde hash, geen adres), zodat"
            " uw adres niet via een geïmporteerde lijst terugkomt. Meldt u zich later zelf opnieuw"
            " aan en bevestigt u dat, dan vervalt die code."
        ),
        "request_erasure_button": "Wis mijn gegevens",
        "erased_title": "Uw gegevens zijn gewist",
        "erased": "Wij hebben al uw gegevens gewist. U ontvangt geen mail meer van ons.",
        "nothing_held_title": "Geen gegevens",
        "nothing_held": "Wij hebben geen gegevens over dit adres (meer).",
        "request_expired": (
            "Deze link is niet meer geldig. Doe een nieuw verzoek om een nieuwe link te krijgen."
        ),
        "request_new_link": "Nieuw verzoek",
        "request_mail_subject_access": "Uw verzoek om inzage bij {controller}",
        "request_mail_subject_erasure": "Uw verzoek om verwijdering bij {controller}",
        "request_mail_access": (
            "Iemand (hopelijk u) heeft gevraagd om een kopie van alle gegevens die {controller}"
            " over dit adres heeft."
        ),
        "request_mail_erasure": (
            "Iemand (hopelijk u) heeft gevraagd om alle gegevens die {controller} over dit adres"
            " heeft te wissen."
        ),
        "request_mail_action": "Open deze link en gebruik de knop op de pagina:",
        "request_mail_ignore": (
            "Heeft u dit niet gevraagd? Doe dan niets: zonder klik op de knop gebeurt er niets."
        ),
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
        "challenge_unavailable": "The check against spam is not working right now. Please try again shortly.",
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
        # proof and rights
        "mail_request_import": (
            "{controller} would like to mail you, but only if you want it. We received this address"
            " without proof of your consent, so we send you nothing unless you confirm that you"
            " would like to receive:"
        ),
        "requests_title": "See or erase your data",
        "requests_intro": (
            "Enter your email address. If we hold data about it, we send a mail with a link to it."
            " Nothing happens until you use the button behind that link."
        ),
        "request_type": "What would you like?",
        "request_access": "A copy of all data you hold about me, as a file (access, GDPR art. 15 and 20)",
        "request_erasure": "Erase all my data (GDPR art. 17)",
        "request_submit": "Send",
        "request_received_title": "Request received",
        "request_received": (
            "If we hold data about this address, you will shortly receive a mail with a link."
            " The link is valid for {days} days. Got such a link before? It keeps working."
        ),
        "request_access_title": "Download your data",
        "request_access_intro": (
            "The button downloads all data we hold about you as a JSON file: your address, your"
            " choices per purpose, your objection to profiling, and the whole history with the"
            " exact texts you agreed to."
        ),
        "request_access_button": "Download my data",
        "request_erasure_title": "Erase your data",
        "request_erasure_intro": (
            "The button erases all your data: your address, your name, your choices and their"
            " history. This cannot be undone, and you will receive no more mail from us."
        ),
        "request_erasure_marker": (
            "We keep only an unreadable code (a keyed hash, no address) so that your address does"
            " not come back through an imported list. If you later sign up again yourself and"
            " confirm, that code is removed."
        ),
        "request_erasure_button": "Erase my data",
        "erased_title": "Your data is erased",
        "erased": "We have erased all your data. You will receive no more mail from us.",
        "nothing_held_title": "No data",
        "nothing_held": "We hold no data about this address (any more).",
        "request_expired": "This link is no longer valid. Make a new request to get a new link.",
        "request_new_link": "New request",
        "request_mail_subject_access": "Your request for access to your data at {controller}",
        "request_mail_subject_erasure": "Your request for erasure at {controller}",
        "request_mail_access": (
            "Someone (hopefully you) asked for a copy of all data {controller} holds about this address."
        ),
        "request_mail_erasure": (
            "Someone (hopefully you) asked {controller} to erase all data it holds about this address."
        ),
        "request_mail_action": "Open this link and use the button on the page:",
        "request_mail_ignore": "Did not ask for this? Then do nothing: without the button, nothing happens.",
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
