import pytest

from mallkit.config import KitSettings


@pytest.mark.parametrize("env", ["production", "Prod", "staging", ""])
def test_an_unknown_environment_refuses_to_start(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("SOCIALMALL_ENV", env)
    with pytest.raises(RuntimeError, match="SOCIALMALL_ENV must be one of dev, prod"):
        KitSettings.from_env()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_known_environments(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("SOCIALMALL_ENV", env)
    assert KitSettings.from_env().is_dev == (env == "dev")
