"""Regenerate the README's layer-field tables from siting.inputs.fields (the one source)."""

from __future__ import annotations

import re
from pathlib import Path

from siting.inputs.fields import markdown_all

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    """Replace the text between the fields markers in README.md."""
    text = README.read_text()
    new = re.sub(
        r"(<!-- fields:start -->\n).*?(<!-- fields:end -->)",
        lambda m: m.group(1) + markdown_all() + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    README.write_text(new)


if __name__ == "__main__":
    main()
