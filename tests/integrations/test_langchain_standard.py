"""LangChain's standard chat-model suites, run against a corpus ingested by the tests.

The suites decide most skips themselves from the capability properties below; each property
says why docqa answers as it does. The remaining self-skips of the suites, all honest here:
- test_init_from_env: docqa has no credentials; its one environment variable, DOCQA_DB, is read
  at call time by the store, not copied into the model's fields.
- test_serdes: ChatDocQA holds local paths (store, model), so it is not lc-serializable.
- test_stream_time: a VCR benchmark of HTTP calls; docqa makes none.
- the *_with_model_override tests: see supports_model_override.
"""

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from docqa.integrations.langchain import ChatDocQA


class _DocQAParams:
    @pytest.fixture(autouse=True)
    def _tiny(self, tiny_corpus):
        self.tiny = tiny_corpus

    @property
    def chat_model_class(self) -> type[ChatDocQA]:
        return ChatDocQA

    @property
    def chat_model_params(self) -> dict:
        return {"corpus": self.tiny.name, "db": str(self.tiny.db), "model": str(self.tiny.model)}

    @property
    def standard_chat_model_params(self) -> dict:
        # A local model has no API key, no network timeout and nothing to retry; ChatDocQA
        # rejects unknown parameters, so the suites' remote-API ones are left out. 8 tokens
        # instead of 100 keep the suites fast on two CPU cores.
        params = super().standard_chat_model_params
        drop = ("api_key", "timeout", "max_retries")
        return {**{k: v for k, v in params.items() if k not in drop}, "max_tokens": 8}

    @property
    def has_tool_calling(self) -> bool:
        return False  # bind_tools is overridden only to refuse with a clear message

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False  # with_structured_output is overridden only to refuse

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False  # the model reads bytes of text; image blocks are refused

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False  # PDFs go into a corpus through `docqa ingest`, not into a message

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        # A corpus memory is tied to the model that wrote it (by fingerprint), so another
        # model cannot answer from it: the model is fixed per instance.
        return False


class TestChatDocQAUnit(_DocQAParams, ChatModelUnitTests):
    pass


class TestChatDocQAIntegration(_DocQAParams, ChatModelIntegrationTests):
    pass
