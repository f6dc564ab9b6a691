"""Plan body placeholders and token paths."""

from __future__ import annotations

from harness.bodies import dig, fill_placeholders


def test_dig_follows_dotted_paths_and_list_indexes() -> None:
    body = {"data": {"token": "t1", "items": [{"id": 7}]}}
    assert dig(body, "data.token") == "t1"
    assert dig(body, "data.items.0.id") == 7
    assert dig(body, "data.items.3.id") is None
    assert dig(body, "data.missing.x") is None
    assert dig("not json", "token") is None


def test_each_fill_gives_a_fresh_uuid_everywhere_in_the_body() -> None:
    template = {"ref": "job-{uuid}", "tags": ["{uuid}", 3], "n": 1}
    a, b = fill_placeholders(template), fill_placeholders(template)
    assert a["ref"].startswith("job-") and len(a["ref"]) == 4 + 32
    assert a["ref"] != b["ref"] and a["tags"][0] != b["tags"][0]
    assert a["tags"][1] == 3 and a["n"] == 1
    assert template["ref"] == "job-{uuid}"  # the plan's template itself is never changed
