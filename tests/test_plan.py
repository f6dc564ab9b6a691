"""Plan validation: one fixture per failure mode, each a one-line error naming file and key, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import PlanError
from harness.plan import load_plan

FIXTURES = Path(__file__).parent / "fixtures" / "plans"
REPO = Path(__file__).resolve().parent.parent

CASES = [
    ("bad_yaml.yaml", "", "line 2, column 1"),
    ("unknown_key.yaml", "endpoints[0].budjet_ms", "unknown key"),
    ("wrong_type.yaml", "scenarios.steady.users", "valid integer"),
    ("bad_url.yaml", "target.base_url", "absolute http:// or https:// URL"),
    ("missing_secret.yaml", "login.password_env", "REHEARSE_TEST_UNSET_SECRET is not set"),
    ("unknown_endpoint_ref.yaml", "scenarios.three_prospects.endpoint", "unknown endpoint 'dashbord'"),
    ("missing_key.yaml", "target.base_url", "required key is missing"),
    ("unknown_profile.yaml", "profiles[1]", "carrier-pigeon"),
    ("not_mapping.yaml", "", "must be a YAML mapping"),
    ("no_scenario.yaml", "scenarios", "choose at least one"),
]


@pytest.mark.parametrize(("name", "key", "text"), CASES)
def test_bad_plan_is_one_line_exit_2(name: str, key: str, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(FIXTURES / name)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert name in err
    if key:
        assert f": {key}: " in err
    assert text in err
    assert "Traceback" not in err


def test_bad_plan_from_the_real_console_script_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(FIXTURES / "unknown_key.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "budjet_ms" in proc.stderr


def test_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/plan.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_valid_plan_defaults_and_secret_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REHEARSE_PASSWORD", "s3cret-value")
    lp = load_plan(REPO / "scenarios" / "plans" / "demo.yaml")
    assert lp.secrets.password == "s3cret-value"
    assert lp.plan.budget_for(lp.plan.endpoint("health")) == 300.0
    assert len(lp.sha256) == 64
    assert lp.secrets.redact("token for s3cret-value") == "token for ***"
    assert "s3cret-value" not in repr(lp.plan)


def test_base_url_override_and_duplicate_endpoint(tmp_path: Path) -> None:
    lp = load_plan(FIXTURES / "valid_minimal.yaml", base_url="http://127.0.0.1:1234")
    assert lp.plan.target.base_url == "http://127.0.0.1:1234"
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        "target: {base_url: 'http://127.0.0.1:9'}\n"
        "endpoints: [{name: a, path: /a}, {name: a, path: /b}]\n"
        "scenarios: {steady: {rates: {a: 1}}}\n"
    )
    with pytest.raises(PlanError, match=r"endpoints\[1\]\.name"):
        load_plan(dup)


def test_validate_says_whether_the_requested_network_backend_works_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.network.netem import detect_netem

    plan = tmp_path / "plan.yaml"
    plan.write_text((FIXTURES / "valid_minimal.yaml").read_text() + "run: {network_backend: netem}\n")
    assert main(["validate", str(plan)]) == 0
    out = capsys.readouterr().out
    available, reason = detect_netem()
    expected = "network shaping: netem works here" if available else f"falling back to the userland proxy ({reason})"
    assert expected in out
    assert main(["validate", str(FIXTURES / "valid_minimal.yaml")]) == 0
    assert "network shaping" not in capsys.readouterr().out  # the default proxy needs no check
