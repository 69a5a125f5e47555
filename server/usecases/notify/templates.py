"""Message texts from Jinja2 templates, one per event: `{event}.txt` is the subject line
followed by the body (used for email and SMS), `{event}.sms.txt` may give SMS its own
wording, and `email.html` wraps the body for the HTML part. Files in
TRACKER_TEMPLATES_DIR override the built-in ones of the same name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

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
        self._text = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=False,  # plain text and SMS
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
        )
        self._html = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, event: str, context: dict[str, Any]) -> Rendered:
        """Raises jinja2.TemplateNotFound for an event without a template."""
        full = self._text.get_template(f"{event}.txt").render(context).strip()
        subject, _, body = full.partition("\n")
        body = body.strip()
        try:
            sms = self._text.get_template(f"{event}.sms.txt").render(context).strip()
        except jinja2.TemplateNotFound:
            sms = body
        paragraphs = [line for line in body.splitlines() if line.strip()]
        html = self._html.get_template("email.html").render(
            {**context, "subject": subject, "paragraphs": paragraphs}
        )
        return Rendered(subject.strip(), body, html, sms)
