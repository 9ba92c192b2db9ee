import pytest

from mallkit.config import KitSettings, secret


@pytest.mark.parametrize("env", ["production", "Prod", "staging", ""])
def test_an_unknown_environment_refuses_to_start(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("SOCIALMALL_ENV", env)
    with pytest.raises(RuntimeError, match="SOCIALMALL_ENV must be one of dev, prod"):
        KitSettings.from_env()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_known_environments(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("SOCIALMALL_ENV", env)
    assert KitSettings.from_env().is_dev == (env == "dev")


@pytest.mark.parametrize(("env", "value", "refusal"), [("", "", "must be set"), ("dev-key", "dev-key", "public")])
def test_prod_refuses_a_missing_secret_and_the_dev_default(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, refusal: str
) -> None:
    monkeypatch.setenv("SOCIALMALL_ENV", "prod")
    monkeypatch.setenv("TEST_SECRET", env)
    with pytest.raises(RuntimeError, match=refusal):
        secret("TEST_SECRET", "dev-key")
    monkeypatch.setenv("TEST_SECRET", "a real key")
    assert secret("TEST_SECRET", "dev-key") == "a real key"
    monkeypatch.setenv("SOCIALMALL_ENV", "dev")
    monkeypatch.delenv("TEST_SECRET")
    assert secret("TEST_SECRET", "dev-key") == "dev-key"
