"""Regenerate the layer-field tables in docs/reference.md from siting's field table."""

from __future__ import annotations

import re
from pathlib import Path

from siting.inputs.fields import markdown_all

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def main() -> None:
    """Replace the text between the fields markers in docs/reference.md."""
    text = REFERENCE.read_text()
    new, n = re.subn(
        r"(<!-- fields:start -->\n).*?(<!-- fields:end -->)",
        lambda m: m.group(1) + markdown_all() + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    if n != 1:
        raise SystemExit(f"{REFERENCE}: expected one <!-- fields:start/end --> pair, found {n}")
    REFERENCE.write_text(new)


if __name__ == "__main__":
    main()
