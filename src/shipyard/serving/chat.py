"""POST /v1/chat/completions — an OpenAI-compatible face on any question-answering service.

The `model` is the service slug and the last user message is the question, so the official `openai`
client (and anything built on it) can call a Shipyard service as it is. The call goes through the same
governed path as /invoke: the same permission, validation, fallbacks, recording and metrics. The
answer's citations are appended to the message as sources, and the full Shipyard result (request id,
outcome, confidence, citations, corpus snapshot) rides along in a `shipyard` field.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response, StreamingResponse

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput
from shipyard.serving.service import InvokeResult, invoke
from shipyard.web.deps import Require, check_service, get_ctx

router = APIRouter(tags=["invoke"])
PERMISSION = "service:invoke"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, ...: accepted, not used

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted, not used

    model: str = Field(description="The service slug, e.g. billing-policy-assistant.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None


def _text(content: str | list[dict[str, Any]] | None) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content or [] if part.get("type") == "text")


def question_of(chat: ChatRequest) -> str:
    for message in reversed(chat.messages):
        if message.role == "user":
            text = _text(message.content).strip()
            if text:
                return text
    raise InvalidInput("the messages hold no user message with text to answer", code="no_question")


def render(result: InvokeResult) -> str:
    """The answer as chat text: the answer, then its sources (or the closest passages on abstention)."""
    output = result.output
    if result.held:
        return (
            "This question was sent to a person for review; the answer will follow once they have "
            f"checked it. Reference: {result.request_id}."
        )
    if not isinstance(output, dict) or "answer" not in output:  # another kind of service: its output
        return output if isinstance(output, str) else orjson.dumps(output).decode()
    text = str(output.get("answer", ""))
    sources = output.get("citations") or output.get("closest") or []
    if sources:
        label = "Sources" if output.get("citations") else "Closest passages"
        lines = [
            f"[{s.get('n', i)}] {s.get('title') or s.get('doc_key', '')} "
            f"(version {s.get('version')}), page {s.get('page')}"
            for i, s in enumerate(sources, 1)
        ]
        text += f"\n\n{label}:\n" + "\n".join(lines)
    return text


def completion(slug: str, result: InvokeResult, created: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion",
        "created": created,
        "model": slug,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": render(result)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        # Extractive answers use no tokens; a generation endpoint's usage is in the recorded output.
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "shipyard": result.as_dict(slug),
    }


async def _stream(slug: str, result: InvokeResult, created: int) -> AsyncIterator[bytes]:
    """The whole answer as one delta, then the end: an answer is complete before it is sent."""
    base = {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": slug,
    }
    first = base | {
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": render(result)}, "finish_reason": None}
        ]
    }
    last = base | {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "shipyard": result.as_dict(slug),
    }
    for chunk in (first, last):
        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"


@router.post("/v1/chat/completions")
async def chat_completions(
    chat: ChatRequest, request: Request, principal: Annotated[Principal, Depends(Require(PERMISSION))]
) -> Response:
    """OpenAI-compatible chat completion: `model` names the service, the last user message is the question
    (sent to the service as `{"question": ...}`). Errors are Shipyard's problem+json with their codes."""
    slug = chat.model
    await check_service(request, principal, PERMISSION, slug)
    ctx = get_ctx(request)
    config = await ctx.service_config(slug)
    inputs = {"question": question_of(chat)}
    result = await invoke(ctx, principal, config, inputs, request.state.request_id)
    created = int(time.time())
    if chat.stream:
        return StreamingResponse(_stream(slug, result, created), media_type="text/event-stream")
    return Response(orjson.dumps(completion(slug, result, created)), media_type="application/json")
