"""training/prompts.yaml and training/prompts.py: buckets, ranges, deterministic job lists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from renderer.errors import ConfigError
from training.prompts import PROMPTS_PATH, build_jobs, load_prompts

BUCKETS = {"abstract", "glitch", "colour-field", "reaction-diffusion", "monochrome-noise"}


def test_shipped_prompts_cover_the_spec() -> None:
    config = load_prompts()
    assert set(config.buckets) == BUCKETS
    assert all(len(b.prompts) >= 3 for b in config.buckets.values())
    assert config.resolution == 512
    assert 20 <= config.steps[0] <= config.steps[1] <= 35
    assert 6.5 <= config.cfg[0] <= config.cfg[1] <= 9.5
    for word in ("text", "logo", "watermark", "people", "object"):
        assert word in config.negative_prompt


def test_jobs_are_deterministic_balanced_and_in_range() -> None:
    config = load_prompts()
    jobs = build_jobs(config, 500)
    assert jobs == build_jobs(config, 500)
    assert [j.index for j in jobs] == list(range(500))
    counts = {b: sum(j.bucket == b for j in jobs) for b in BUCKETS}
    assert set(counts.values()) == {100}
    assert len({j.seed for j in jobs}) == 500
    for job in jobs:
        assert 20 <= job.steps <= 35 and 6.5 <= job.cfg <= 9.5
        assert job.prompt in config.buckets[job.bucket].prompts
    assert {j.steps for j in jobs} == set(range(20, 36))  # the whole range is used
    # A shorter list is a prefix of a longer one, so --count extends a dataset.
    assert build_jobs(config, 37) == jobs[:37]


def test_master_seed_changes_the_seeds() -> None:
    config = load_prompts()
    other = config.model_copy(update={"seed": config.seed + 1})
    a, b = build_jobs(config, 50), build_jobs(other, 50)
    assert [j.seed for j in a] != [j.seed for j in b]
    assert [j.bucket for j in a] == [j.bucket for j in b]
    with pytest.raises(ValueError, match="count"):
        build_jobs(config, 0)


def test_uneven_weights_give_proportional_quotas(tmp_path: Path) -> None:
    data = yaml.safe_load(PROMPTS_PATH.read_text())
    data["buckets"] = {
        "abstract": {"weight": 3, "prompts": ["a"]},
        "glitch": {"weight": 1, "prompts": ["g"]},
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    jobs = build_jobs(load_prompts(path), 10)
    assert sum(j.bucket == "abstract" for j in jobs) in (7, 8)
    assert len(jobs) == 10


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"steps": [10, 30]}, "steps"),
        ({"steps": [20, 40]}, "steps"),
        ({"cfg": [5.0, 9.0]}, "cfg"),
        ({"cfg": [7.0, 12.0]}, "cfg"),
        ({"resolution": 500}, "resolution"),
        ({"negative_prompt": "blurry"}, "negative_prompt"),
        ({"buckets": {}}, "buckets"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_values_name_file_and_field(tmp_path: Path, edit: dict, field: str) -> None:
    data = yaml.safe_load(PROMPTS_PATH.read_text())
    data.update(edit)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_prompts(path)
    assert str(path) in str(info.value)
    assert field in str(info.value) or "negative" in str(info.value)


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [20, 30\nbuckets: {")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_prompts(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="scalar.yaml.*mapping"):
        load_prompts(scalar)
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_prompts(tmp_path / "missing.yaml")
