"""'Improve with AI': a draft rewritten by an OpenAI-compatible chat-completions endpoint
(LLM_URL, LLM_MODEL, LLM_API_KEY), from the incident's facts only (docs/communications.md).

Never called while LLM_URL or LLM_MODEL is unset. The model sees the facts `incident_variables`
builds and the draft, nothing else; a timeout, an error or an answer without text is an
`UpstreamError` (502) and the draft is left as it was."""

import json
import urllib.error
import urllib.request

from django.conf import settings

from itsm.errors import ApplicationError, ConflictError

INSTRUCTIONS = (
    "You rewrite an IT incident communication so that it is clear, calm and accurate. "
    "Use only the facts given; do not invent causes, times, names or promises. Keep its "
    "structure (the labelled lines) and its language. Answer with the rewritten body only."
)


class UpstreamError(ApplicationError):
    status = 502
    code = "upstream_error"


def configured() -> bool:
    return bool(settings.LLM_URL and settings.LLM_MODEL)


def _request_body(facts: dict, subject: str, body: str) -> dict:
    prompt = (
        "Facts of the incident (JSON):\n"
        + json.dumps(facts, indent=2, ensure_ascii=False)
        + f"\n\nSubject: {subject}\n\nDraft:\n{body}"
    )
    return {
        "model": settings.LLM_MODEL,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": prompt},
        ],
        "temperature": 0.2,
        "stream": False,
    }


def _post(payload: dict) -> dict:
    headers = {"Content-Type": "application/json"}
    if settings.LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.LLM_API_KEY}"
    request = urllib.request.Request(  # noqa: S310 (the configured endpoint, http or https)
        settings.LLM_URL, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.LLM_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise UpstreamError(
            f"The AI endpoint answered {error.code}; the draft is unchanged."
        ) from None
    except (OSError, ValueError) as error:  # refused, timed out, not JSON
        raise UpstreamError(f"The AI endpoint failed ({error}); the draft is unchanged.") from None


def rewritten_body(facts: dict, subject: str, body: str) -> str:
    """The draft's body as the model rewrote it."""
    if not configured():
        raise ConflictError("AI drafting is not configured (LLM_URL, LLM_MODEL).")
    answer = _post(_request_body(facts, subject, body))
    try:
        text = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        text = None
    if not isinstance(text, str) or not text.strip():
        raise UpstreamError("The AI endpoint gave no text; the draft is unchanged.")
    return text.strip()
