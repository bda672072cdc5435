"""Rules that operators tune, loaded from config/rules/*.yaml and validated at start-up."""
from __future__ import annotations

from pathlib import Path

import yaml

from config import RULES_DIR


class RulesError(RuntimeError):
    """A rules file is missing or malformed; the message names the file and the problem."""


def load(name: str, directory: Path | None = None) -> dict:
    path = (directory or RULES_DIR) / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path}: the top level must be a mapping")
    return data


def require(condition: bool, path: str, problem: str) -> None:
    if not condition:
        raise RulesError(f"{path}: {problem}")


def pair(value, path: str, field: str) -> tuple[str, str]:
    """A ``[中文, English]`` pair of non-empty texts, checked."""
    require(isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) and v for v in value), path,
            f"{field} must be [中文, English]")
    return value[0], value[1]
