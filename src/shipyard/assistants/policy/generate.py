"""Optional generation through an OpenAI-compatible endpoint, held to the retrieved passages.

The extractive answer always comes first. When an endpoint is configured, the model is asked to
phrase the answer from the numbered passages only, citing them as [n]; a reply that cites nothing,
cites a passage it was not given, or says it cannot answer is not used. When the provider is slow,
failing or down, the extractive answer stands and the record says why; a circuit breaker stops
every call from waiting out the timeout while the provider is down.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shipyard.core.config import AssistantSettings
from shipyard.registry.loaders.base import Usage, parse_usage
from shipyard.serving.breaker import CircuitBreaker
from shipyard.serving.policy import BreakerPolicy

NOT_ANSWERED = "NOT_ANSWERABLE"
_CITE = re.compile(r"\[(\d{1,2})\]")
_SYSTEM = (
    "You answer billing staff's questions about insurers' coverage policies. Use only the numbered "
    "passages you are given; quote their wording where you can and cite every claim with its passage "
    "number in square brackets, like [1]. Never use outside knowledge. If the passages do not answer "
    f"the question, reply exactly {NOT_ANSWERED}."
)


@dataclass(frozen=True)
class Generated:
    """What the provider said, or why its answer was not used."""

    status: str  # generated | fallback | skipped
    text: str | None
    cited: list[int]  # 1-based passage numbers the text cites
    latency_ms: float
    model: str
    error: str | None = None
    usage: Usage | None = None  # what the provider says the call used, when it says (and answered)

    def record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "model": self.model,
            "latency_ms": round(self.latency_ms, 1),
            "cited": self.cited,
            "error": self.error,
        }


class Generator:
    """One OpenAI-compatible chat endpoint; thread-safe (httpx.Client is)."""

    def __init__(self, settings: AssistantSettings, client: httpx.Client | None = None) -> None:
        if not settings.llm_url:
            raise ValueError("no generation endpoint configured (SHIPYARD_ASSISTANT__LLM_URL)")
        self._url = settings.llm_url.rstrip("/") + "/chat/completions"
        self._model = settings.llm_model
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        self._client = client or httpx.Client(
            timeout=settings.llm_timeout_ms / 1000,
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        self.breaker = CircuitBreaker(
            BreakerPolicy(failure_threshold=3, cooldown_s=30), label="assistant llm"
        )

    def generate(self, question: str, passages: Sequence[str]) -> Generated:
        """Ask for an answer from `passages` (numbered from 1); never raises."""
        t0 = time.perf_counter()
        if not self.breaker.allow():
            return self._result(
                "skipped", t0, error="the provider failed repeatedly; waiting before trying again"
            )
        numbered = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(passages, 1))
        body = {
            "model": self._model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"},
            ],
        }
        try:
            reply = self._client.post(self._url, json=body)
            reply.raise_for_status()
            answer = reply.json()
            text = answer["choices"][0]["message"]["content"]
            if not isinstance(text, str):
                raise ValueError("the reply has no text content")
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            self.breaker.failure(type(exc).__name__)
            return self._result("fallback", t0, error=_describe(exc))
        self.breaker.success()
        usage = _usage(answer, self._model)  # tokens are spent (and billed) whether or not we use the text
        text = text.strip()
        cited = sorted({int(n) for n in _CITE.findall(text)})
        if text == NOT_ANSWERED or NOT_ANSWERED in text:
            error = "the model said the passages do not answer it"
            return self._result("fallback", t0, error=error, usage=usage)
        if not cited:
            return self._result("fallback", t0, error="the model's answer cites no passage", usage=usage)
        if any(n < 1 or n > len(passages) for n in cited):
            return self._result(
                "fallback", t0, cited=cited, error="the model cited a passage it was not given", usage=usage
            )
        return self._result("generated", t0, text=text, cited=cited, usage=usage)

    def _result(
        self,
        status: str,
        t0: float,
        *,
        text: str | None = None,
        cited: list[int] | None = None,
        error: str | None = None,
        usage: Usage | None = None,
    ) -> Generated:
        elapsed_ms = (time.perf_counter() - t0) * 1000
        return Generated(status, text, cited or [], elapsed_ms, self._model, error, usage)

    def close(self) -> None:
        self._client.close()


def _usage(answer: Any, requested: str) -> Usage | None:
    """The reply's token usage, priced under the model it names (else the one asked for)."""
    model = answer.get("model") if isinstance(answer, dict) else None
    try:
        return parse_usage(answer.get("usage"), model if isinstance(model, str) else requested)
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the provider did not answer in time"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"the provider answered {exc.response.status_code}"
    if isinstance(exc, httpx.TransportError):
        return f"the provider could not be reached ({type(exc).__name__})"
    return f"the provider's reply was not usable ({type(exc).__name__}: {exc})"
