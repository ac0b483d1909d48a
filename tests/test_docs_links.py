"""The documentation's links hold: every relative link in README.md and docs/**/*.md names a file
that exists and, for `#anchor`, a heading of that file by GitHub's anchor rule; and docs/index.md
links every page under docs/. (The README was split into docs/guide/ pages: a link left pointing
at a section's old place, or a page nobody can reach, fails here.)"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def _pages():
    if not (ROOT / "README.md").exists() or not (ROOT / "docs").is_dir():
        pytest.skip("README.md and docs/ are not next to the tests")
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _prose(text):
    """The text without fenced code blocks and code spans, whose brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor for a heading's text: markup dropped (code ticks, emphasis, a link's target),
    lower case, every character that is not a letter, digit, space, `-` or `_` removed, spaces to `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)          # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor of a page, GitHub's way: repeated headings get -1, -2, ... in order."""
    seen, found = {}, set()
    for match in HEADING.finditer(FENCE.sub("", text)):
        base = slug(match.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    found |= set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return found


def broken_links(page, root=ROOT):
    """(link, why) for each relative link of `page` that does not resolve."""
    text = page.read_text(encoding="utf-8")
    problems = []
    for target in LINK.findall(_prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):               # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists():
            problems.append((target, f"no file {where.relative_to(root) if where.is_relative_to(root) else where}"))
        elif anchor and where.suffix == ".md" and anchor not in anchors(where.read_text(encoding="utf-8")):
            problems.append((target, f"no heading #{anchor} in {where.name}"))
    return problems


@pytest.mark.parametrize("name", ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")))
def test_every_relative_link_resolves(name):
    _pages()
    problems = broken_links(ROOT / name)
    assert not problems, f"{name}: " + "; ".join(f"({t}): {why}" for t, why in problems)


def test_docs_index_links_every_page_under_docs():
    _pages()
    index = ROOT / "docs" / "index.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in LINK.findall(_prose(index.read_text(encoding="utf-8")))
              if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)}
    pages = {p.resolve() for p in (ROOT / "docs").rglob("*.md")} - {index.resolve()}
    missing = sorted(str(p.relative_to(ROOT)) for p in pages - linked)
    assert not missing, f"docs/index.md does not link {missing}"


def test_the_readme_links_the_index_and_every_guide_page():
    _pages()
    text = _prose((ROOT / "README.md").read_text(encoding="utf-8"))
    targets = set(LINK.findall(text))
    guide = sorted(f"docs/guide/{p.name}" for p in (ROOT / "docs" / "guide").glob("*.md"))
    assert guide and "docs/index.md" in targets
    assert not [g for g in guide if g not in targets]


@pytest.mark.parametrize("heading, expected", [
    # anchors GitHub gives these headings (read off the rendered pages of this repository's docs)
    ("Custom training loops: GradientTape", "custom-training-loops-gradienttape"),
    ("Keras' default steps: super(), compute_loss, predict_step", "keras-default-steps-super-compute_loss-predict_step"),
    ("Random draws: glassnet.random", "random-draws-glassnetrandom"),
    ("Beyond the seeds: a training loop of your own with `gn.GradientTape` (custom_training_loop.py)",
     "beyond-the-seeds-a-training-loop-of-your-own-with-gngradienttape-custom_training_looppy"),
    ("Set-up (a fresh machine with Python >= 3.10 and pip)", "set-up-a-fresh-machine-with-python--310-and-pip"),
    ("Merging (functional models)", "merging-functional-models"),
])
def test_slugs_follow_github_s_rule(heading, expected):
    assert slug(heading) == expected


def test_repeated_headings_are_numbered_as_github_numbers_them():
    assert anchors("# A\n\n## Notes\n\n```\n## Notes\n```\n\n## Notes\n") == {"a", "notes", "notes-1"}


def test_the_checker_finds_a_missing_file_a_missing_heading_and_skips_code(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Real part\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Here\n\n[ok](other.md#real-part) [self](#here) [web](https://example.com/x)\n"
                    "[gone](missing.md) [no heading](other.md#imaginary) [not here](#nowhere)\n\n"
                    "```python\nx = a[0](1)  # [fake](nothing.md)\n```\n`[also](code.md)`\n", encoding="utf-8")
    problems = broken_links(page, root=tmp_path)
    assert [t for t, _ in problems] == ["missing.md", "other.md#imaginary", "#nowhere"]
    assert "no file missing.md" in problems[0][1] and "no heading #imaginary in other.md" in problems[1][1]
