"""``training/prompts.yaml``: validated prompt buckets and the deterministic job list built from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from renderer.errors import ConfigError

PROMPTS_PATH = Path(__file__).with_name("prompts.yaml")


class Bucket(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: float = Field(gt=0)
    prompts: list[str] = Field(min_length=1)


class PromptConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    resolution: int = Field(512, ge=64, le=1024, multiple_of=8)
    steps: tuple[int, int]
    cfg: tuple[float, float]
    seed: int = 0
    negative_prompt: str
    buckets: dict[str, Bucket] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 20 <= v[0] <= v[1] <= 35:
            raise ValueError(f"steps must satisfy 20 ≤ low ≤ high ≤ 35 (got {list(v)})")
        return v

    @field_validator("cfg")
    @classmethod
    def _cfg(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 6.5 <= v[0] <= v[1] <= 9.5:
            raise ValueError(f"cfg must satisfy 6.5 ≤ low ≤ high ≤ 9.5 (got {list(v)})")
        return v

    @model_validator(mode="after")
    def _negatives(self) -> PromptConfig:
        required = ("text", "logo", "watermark", "people", "object")
        missing = [w for w in required if w not in self.negative_prompt]
        if missing:
            raise ValueError(f"negative_prompt must exclude {missing}")
        return self


@dataclass(frozen=True)
class Job:
    """One image to generate."""

    index: int
    bucket: str
    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    cfg: float


def load_prompts(path: str | Path = PROMPTS_PATH) -> PromptConfig:
    """Read and validate a prompts YAML; raises ``ConfigError`` naming the file and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read prompts ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return PromptConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ConfigError(f"{path}: {field}: {first['msg']}") from exc


def build_jobs(config: PromptConfig, count: int) -> list[Job]:
    """``count`` jobs, buckets interleaved by weight; same config + count → same list.

    Adding prompts to a bucket changes which prompt a job gets but never its seed.
    """
    if count < 1:
        raise ValueError(f"count: must be ≥ 1 (got {count})")
    names = sorted(config.buckets)
    weights = np.array([config.buckets[n].weight for n in names])
    quotas = np.floor(weights / weights.sum() * count).astype(int)
    quotas[: count - quotas.sum()] += 1
    order = [n for i in range(max(quotas)) for n, q in zip(names, quotas, strict=True) if i < q]
    # Seeds come from one stream of the master seed and the rest from a per-job stream, so the
    # first k jobs of a longer list equal a k-job list (a larger --count extends a dataset).
    seeds = np.random.default_rng(config.seed).integers(0, 2**31 - 1, size=count)
    jobs = []
    for index, bucket in enumerate(order):
        rng = np.random.default_rng([config.seed, index])
        prompts = config.buckets[bucket].prompts
        jobs.append(
            Job(
                index=index,
                bucket=bucket,
                prompt=prompts[int(rng.integers(len(prompts)))],
                negative_prompt=config.negative_prompt,
                seed=int(seeds[index]),
                steps=int(rng.integers(config.steps[0], config.steps[1] + 1)),
                cfg=round(float(rng.uniform(*config.cfg)), 2),
            )
        )
    return jobs
