"""Message texts from Jinja2 templates, one per event: `{event}.txt` is the subject line
followed by the body (used for email and SMS), `{event}.sms.txt` may give SMS its own
wording, `footer.txt` ends every customer's email and their first SMS about an order (the
preferences link), and `email.html` wraps the body for the HTML part.

Languages: the templates mark their sentences with `{% trans %}` (jinja2.ext.i18n); the
translations are gettext catalogs, `locale/<language>/LC_MESSAGES/messages.po` beside this
file, read with Babel when the notifier starts (catalogs.py). A message is rendered in
its context's `language`, English when that has no catalog.

Files in TRACKER_TEMPLATES_DIR override the built-in ones of the same name; one in its
`<language>/` subfolder (`pt/shipped.txt`) overrides for that language only. An override
may use `{% trans %}` (the built-in catalogs translate what they know) or plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from server.base import locales
from server.usecases.notify import catalogs

BUILT_IN = Path(__file__).with_name("templates")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


class Templates:
    def __init__(self, override_dir: str = "") -> None:
        loaders: list[jinja2.BaseLoader] = []
        if override_dir:
            loaders.append(jinja2.FileSystemLoader(override_dir))
        loaders.append(jinja2.FileSystemLoader(BUILT_IN))
        loader = jinja2.ChoiceLoader(loaders)
        translations = catalogs.load()
        # Per language: (plain text and SMS, HTML); gettext is bound per environment.
        self._envs: dict[str, tuple[jinja2.Environment, jinja2.Environment]] = {}
        for language in locales.SUPPORTED:
            pair = []
            for autoescape in (False, True):
                env = jinja2.Environment(
                    loader=loader,
                    autoescape=autoescape,
                    undefined=jinja2.StrictUndefined,
                    keep_trailing_newline=False,
                    extensions=["jinja2.ext.i18n"],
                )
                env.install_gettext_translations(  # type: ignore[attr-defined]
                    translations[language], newstyle=True
                )
                pair.append(env)
            self._envs[language] = (pair[0], pair[1])

    def render(self, event: str, context: dict[str, Any], sms_footer: bool = True) -> Rendered:
        """Raises jinja2.TemplateNotFound for an event without a template. `sms_footer`
        False: the SMS without the preferences link (only an order's first SMS has it)."""
        language = locales.language(context.get("language"))
        text_env, html_env = self._envs[language]

        def template(name: str) -> jinja2.Template:
            return text_env.select_template([f"{language}/{name}", name])

        full = template(f"{event}.txt").render(context).strip()
        subject, _, body = full.partition("\n")
        body = body.strip()
        try:
            sms = template(f"{event}.sms.txt").render(context).strip()
        except jinja2.TemplateNotFound:
            sms = body
        paragraphs = [line for line in body.splitlines() if line.strip()]
        html = html_env.select_template([f"{language}/email.html", "email.html"]).render(
            {
                "preferences_url": None,
                **context,
                "language": language,
                "subject": subject,
                "paragraphs": paragraphs,
            }
        )
        if context.get("preferences_url"):
            footer = template("footer.txt").render(context).strip()
            body = f"{body}\n\n{footer}"
            sms = f"{sms}\n{footer}" if sms_footer else sms
        return Rendered(subject.strip(), body, html, sms)
