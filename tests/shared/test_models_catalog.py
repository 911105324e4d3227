"""model_label: known models by name, the rest as `other`, wherever a model is counted."""

from __future__ import annotations

import time

import pytest
import redis

from shared import keys
from shared.analytics import series
from shared.guards.policies import Policy, policy_key
from shared.models_catalog import OTHER, model_label
from shared.settings import Settings, SettingsError, reset_settings


def test_known_names_stay_and_the_rest_fold(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("KNOWN_MODELS", "gpt-4o, llama3:8b")
    reset_settings()
    assert model_label("gpt-4o") == "gpt-4o"
    assert model_label("llama3:8b") == "llama3:8b"
    assert model_label("demo") == OTHER
    assert model_label("GPT-4O") == OTHER
    assert model_label("x", known=("x",)) == "x"


def test_the_default_is_the_demo_model() -> None:
    assert Settings.from_env({}).analytics.known_models == ("demo",)


def test_a_name_post_chat_could_never_send_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="KNOWN_MODELS"):
        Settings.from_env({"KNOWN_MODELS": "demo,gpt 4"})


def test_per_model_token_buckets_are_per_label() -> None:
    policy = Policy("model_tokens", 1000, 60.0, unit="tokens")
    assert policy_key("user:a", policy, "made-up-1") == policy_key("user:a", policy, "made-up-2")
    assert policy_key("user:a", policy, "made-up-1").endswith("model_tokens.other")
    assert policy_key("user:a", policy, "demo").endswith("model_tokens.demo")


def test_fields_an_older_rollup_wrote_per_name_fold_as_they_are_read(r: redis.Redis) -> None:
    """The totals hash is all-time: names counted before the fix must not stay labels."""
    fields: dict[str, int] = {"msg": 0}
    for model, n in (("demo", 3), ("made-up-1", 2), ("made-up-2", 5)):
        fields["msg"] += n
        fields |= {f"msg:m:{model}": n, f"tok_p:{model}": n, f"tok_c:{model}": 2 * n}
        fields[f"lat:{model}:10"] = n
    r.hset(keys.analytics_totals(), mapping=fields)  # type: ignore[arg-type]
    summary = series.build_summary(r, time.time())
    assert summary["by_model"] == {"demo": 3, "other": 7}
    assert summary["tokens_by_model"] == {
        "demo": {"prompt": 3, "completion": 6},
        "other": {"prompt": 7, "completion": 14},
    }
    assert set(summary["latency_ms_by_model"]) == {"demo", "other"}
