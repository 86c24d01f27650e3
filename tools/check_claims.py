"""The claims rule: every number and every comparison in a chapter's prose comes from the run.

``python -m tools.check_claims [files]`` (default: every chapter) prints one line
``file:line: token -- what to do`` for each violation and exits 1 if there is any.

What the rule asks of a prose paragraph (see CONTRIBUTING.md, "The claims rule"):

* A **digit** is allowed only in ``$math$``, inline ``code``, a role (``{glue:text}``,
  ``{cite}``, ``{ref}``, ...), a label ``(name)=``, a directive option (``:label: ex-01-1``),
  a link target, a list marker, a heading's chapter number, or a name that merely contains
  one (``Word2Vec``, ``ResNet-18``, ``R@1``, ``3D``). A number that a run produced is glued
  from the code cell that computes it; any other number (a year, a parameter the visible
  code sets, a formula) goes into ``$math$`` or inline code, or the paragraph is marked with
  a MyST comment line directly above it: ``% claims: <short reason>``.
* A **comparison word** (beats, better, worse, higher, faster, at chance, every, most,
  fails, ...) is allowed when the paragraph glues a value, or when the nearest code cell
  above it asserts something, or when the paragraph is marked as above. Questions (a
  sentence ending in ``?``) claim nothing and are not checked for comparisons.
* A **chapter or exercise number** typed in prose ("chapter 9", "exercise 2") is reported
  with its own message: refer to a label with ``{ref}`` instead.
* Every ``{glue:...}`` name used in the prose is glued by a code cell of the same file, and a
  chapter's glue names start with its prefix (``ch03_`` in ``chapters/03_data.md``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.bookconfig import ROOT, chapter_sources

#: Directives whose body is code, data or configuration, never prose.
NON_PROSE_DIRECTIVES = {
    "code-cell",
    "code",
    "code-block",
    "sourcecode",
    "math",
    "raw",
    "literalinclude",
    "bibliography",
    "tableofcontents",
    "toctree",
    "eval-rst",
    "mermaid",
    "glue",
    "glue:any",
    "glue:figure",
    "glue:math",
    "solution-start",
    "solution-end",
    "exercise-start",
    "exercise-end",
    "csv-table",
}

#: Comparison words and phrases that state an outcome of a run.
COMPARISONS = re.compile(
    r"\b(?:beats?|beaten|beating|better|best|worse|worst|higher|highest|lower|lowest|"
    r"faster|fastest|slower|slowest|outperform(?:s|ed|ing)?|wins?|won|winner|"
    r"at chance|above chance|below chance|chance level|every|most|fails?|failed|"
    r"weakest|strongest|more than|less than|fewer than|falls? behind|ahead of|"
    r"improves?|improved|hurts?)\b",
    re.IGNORECASE,
)

#: Quantifiers that make a claim only next to an outcome verb of the same sentence.
QUANTIFIERS = {"every", "most"}
OUTCOME = re.compile(
    r"\b(?:finds?|found|miss(?:es|ed)?|wins?|beats?|falls?|ends? up|reach(?:es)?|stays?|"
    r"lands?|recovers?|retrieves?|recognises?|improves?|gains?|loses?|degrades?|succeeds?|fails?)\b",
    re.IGNORECASE,
)
SENTENCE = re.compile(r"[^.!?]*(?:[.!?]+|$)")

#: Phrases that contain a comparison word but define a convention rather than report a result.
CONVENTIONS = re.compile(
    r"\b(?:higher|lower|larger|smaller) (?:is|means) better\b|\bbest (?:first|possible)\b|\bat most\b|\blower-cas\w*",
    re.IGNORECASE,
)

#: Spans of a prose line in which digits are allowed, removed before numbers are searched.
ALLOWED_SPANS = [
    re.compile(r"`{1,3}[^`]+`{1,3}"),  # inline code, and the argument of a role
    re.compile(r"\{[\w:.-]+\}"),  # the role itself: {glue:text}, {cite}, {ref}, ...
    re.compile(r"\$\$.+?\$\$"),  # display math on one line
    re.compile(r"(?<!\\)\$[^$]+?(?<!\\)\$"),  # inline math
    re.compile(r"\]\([^)]*\)"),  # a link target
    re.compile(r"https?://\S+"),  # a bare address
    re.compile(r"<[^>]+>"),  # an HTML tag or autolink
    re.compile(r"\[\^[^\]]+\]"),  # a footnote reference
    re.compile(r"\{\{[^}]*\}\}"),  # a substitution
    re.compile(r"\d+(?:×\d+)+"),  # a size, 28×28 or 3×3×3
    re.compile(r"\d[\d,]*-(?:d|D|dimensional)\b"),  # a dimension, 1,280-d
]

#: A number standing on its own: not inside a word, not a name like ResNet-18 or R@1.
NUMBER = re.compile(r"(?<![\w@])(?<![A-Za-z]-)[-+−]?\d+(?:[.,]\d+)*(?:%|×)?(?![\w])")

#: A number written straight after its unit-less name: "8 kHz" is caught, "3D" and "6B" are names.
NUMBER_WITH_UNIT = re.compile(r"(?<![\w@])(?<![A-Za-z]-)\d+(?:[.,]\d+)*(?:ms|s|x|min|h|MB|GB|kB|KB|µs)(?![\w])")

#: "chapter 9", "Exercise 1.3", "section 2": a typed cross-reference.
TYPED_REFERENCE = re.compile(
    r"\b(chapters?|exercises?|sections?|figures?|tables?)\s+(\d+(?:\.\d+)?(?:\s*(?:,|and|or|–|-)\s*\d+)*)",
    re.IGNORECASE,
)

GLUE_ROLE = re.compile(r"\{glue(?::[\w]+)?\}`([^`:]+)")
GLUE_CALL = re.compile(r"""\bglue\(\s*["']([^"']+)["']""")
ASSERTION = re.compile(r"^\s*assert\b|\bassert_\w+\(|\.testing\.assert", re.MULTILINE)
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([^}]+)\})?\s*(.*)$")
MARKER = re.compile(r"^%\s*claims:\s*(\S.*)$")
LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+")
HEADING = re.compile(r"^(#{1,6})\s+(?:\d+(?:\.\d+)*\.?\s+)?(.*)$")
LABEL = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
OPTION = re.compile(r"^\s*:[\w-]+:")
MATH_BEGIN = re.compile(r"^\\begin\{\w+\*?\}")
MATH_END = re.compile(r"\\end\{\w+\*?\}$")
REMOVED_CELL = re.compile(r"^:tags:.*\bremove-cell\b", re.MULTILINE)

HELP = """\
How to fix a line above (the claims rule, CONTRIBUTING.md):
  * a number that the run produced: glue it in the code cell that computes it,
        from myst_nb import glue; glue("ch03_accuracy", accuracy, display=False)
    and write {glue:text}`ch03_accuracy:.3f` in the prose;
  * a number that is not a result (a year, a parameter the code sets, a formula): put it in
    $math$ or `code`, or mark the paragraph with a comment line directly above it:
        % claims: <why these digits are not results>
  * a comparison ("A beats B", "at chance", "every ..."): add an `assert` that checks it to the
    code cell that computes it (a hidden cell tagged remove-input is fine), or glue the name of
    the winner; if it may differ across machines, say "in this run" and compute it;
  * "chapter 9", "exercise 2": put a label above the target, (sec-name)=, and write {ref}`sec-name`.
"""


@dataclass
class Block:
    """A paragraph of prose: its lines with their numbers, and what surrounds it."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    exempt: str | None = None  # the reason of a ``% claims:`` marker directly above
    asserted: bool = False  # the nearest code cell above holds an assert
    heading: bool = False
    after_code: bool = False  # a code cell that the reader sees ran above it

    @property
    def text(self) -> str:
        return " ".join(line for _, line in self.lines)


@dataclass
class Violation:
    """One token of one line that breaks the rule, with the reason."""

    path: Path
    line: int
    token: str
    reason: str

    def __str__(self) -> str:
        try:
            shown = self.path.resolve().relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.token} -- {self.reason}"


def _strip_front_matter(lines: list[str]) -> int:
    """The index of the first line after a ``---`` front matter block (0 when there is none)."""
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return i + 1
    return 0


def _directive_name(match: re.Match[str]) -> str | None:
    return match.group(4).strip() if match.group(4) else None


def parse(text: str) -> tuple[list[Block], str]:
    """Split a MyST document into prose blocks; also return the source of all its code.

    A block is a paragraph, a list, a table row group, a directive title or a heading. Code
    cells, fenced code, math blocks and directive options are not prose.
    """
    lines = text.splitlines()
    start = _strip_front_matter(lines)
    blocks: list[Block] = []
    code_parts: list[str] = []
    stack: list[tuple[str, int, bool]] = []  # (fence char, fence length, prose inside?)
    current: Block | None = None
    pending_marker: str | None = None
    last_code_asserts = False
    code_lines: list[str] | None = None
    code_depth = 0
    ran_code = False
    in_math = False
    i = start

    def close() -> None:
        nonlocal current
        if current is not None and current.lines:
            blocks.append(current)
        current = None

    def open_block(heading: bool = False) -> Block:
        nonlocal current, pending_marker
        close()
        current = Block(exempt=pending_marker, asserted=last_code_asserts, heading=heading, after_code=ran_code)
        pending_marker = None
        return current

    while i < len(lines):
        number, line = i + 1, lines[i]
        i += 1
        fence = FENCE.match(line)
        in_prose = all(prose for _, _, prose in stack)
        if stack and fence and fence.group(2)[0] == stack[-1][0] and len(fence.group(2)) >= stack[-1][1]:
            if not fence.group(3) and not fence.group(5):  # a closing fence
                stack.pop()
                if code_lines is not None and len(stack) < code_depth:
                    source = "\n".join(code_lines)
                    code_parts.append(source)
                    last_code_asserts = bool(ASSERTION.search(source))
                    ran_code = ran_code or not REMOVED_CELL.search(source)
                    code_lines = None
                close()
                continue
        if not in_prose:
            if code_lines is not None:
                code_lines.append(line)
            if fence and (fence.group(3) or fence.group(5)):
                stack.append((fence.group(2)[0], len(fence.group(2)), False))
            continue
        if fence:
            close()
            name = _directive_name(fence)
            prose = name is not None and name not in NON_PROSE_DIRECTIVES
            stack.append((fence.group(2)[0], len(fence.group(2)), prose))
            if name == "code-cell":
                code_lines, code_depth = [], len(stack)
            title = fence.group(5).strip()
            if prose and title:
                block = open_block()
                block.lines.append((number, title))
                close()
            continue
        stripped = line.strip()
        if in_math:
            in_math = not (stripped.endswith("$$") or MATH_END.search(stripped))
            continue
        if (stripped.startswith("$$") and (stripped == "$$" or not stripped.endswith("$$"))) or MATH_BEGIN.match(
            stripped
        ):
            in_math = not (len(stripped) > 2 and stripped.endswith("$$")) and not MATH_END.search(stripped)
            continue
        marker = MARKER.match(stripped)
        if marker:
            close()
            pending_marker = marker.group(1)
            continue
        if not stripped:
            close()
            continue
        if stripped.startswith("%") or stripped == "+++" or LABEL.match(stripped):
            close()
            continue
        if stripped.startswith("<!--"):
            close()
            continue
        if OPTION.match(stripped) and current is None:
            continue
        heading = HEADING.match(stripped)
        if heading:
            block = open_block(heading=True)
            block.lines.append((number, heading.group(2)))
            close()
            continue
        if current is None:
            open_block()
        assert current is not None
        current.lines.append((number, LIST_MARKER.sub(" ", line, count=1)))
    close()
    return blocks, "\n".join(code_parts)


def _prose_only(line: str) -> str:
    """A line with every span in which digits are allowed blanked out."""
    for pattern in ALLOWED_SPANS:
        line = pattern.sub(" ", line)
    return line


def number_violations(path: Path, block: Block) -> Iterator[Violation]:
    """Typed numbers and typed cross-references in one block."""
    for number, raw in block.lines:
        line = _prose_only(raw)
        referenced: set[int] = set()
        for match in TYPED_REFERENCE.finditer(line):
            referenced.update(range(match.start(2), match.end(2)))
            yield Violation(
                path,
                number,
                match.group(0),
                f"typed {match.group(1).lower().rstrip('s')} number: refer to its label with {{ref}}`label`",
            )
        for pattern in (NUMBER, NUMBER_WITH_UNIT):
            for match in pattern.finditer(line):
                if match.start() in referenced:
                    continue
                yield Violation(
                    path,
                    number,
                    match.group(0),
                    "typed number: glue it if a run produced it, else $math$/`code`/'% claims:' marker",
                )


def _joined(block: Block) -> tuple[str, list[tuple[int, int]]]:
    """A block's prose as one string, with the (offset, line number) where each line starts."""
    parts, starts, offset = [], [], 0
    for number, raw in block.lines:
        prose = CONVENTIONS.sub(" ", _prose_only(raw))
        starts.append((offset, number))
        parts.append(prose)
        offset += len(prose) + 1
    return " ".join(parts), starts


def _line_at(starts: list[tuple[int, int]], offset: int) -> int:
    return [number for start, number in starts if start <= offset][-1]


def comparison_violations(path: Path, block: Block) -> Iterator[Violation]:
    """Comparison words in a block that neither glues a value nor follows an assert.

    A quantifier ("every", "most") counts only in a sentence that also reports an outcome
    ("finds every", "most land on"); "every voice is synthesised" describes, it does not claim.
    """
    if block.heading or not block.after_code or block.asserted or "{glue" in block.text:
        return
    text, starts = _joined(block)
    for sentence in SENTENCE.finditer(text):
        if sentence.group(0).rstrip().endswith("?"):
            continue  # a question claims nothing
        outcome = OUTCOME.search(sentence.group(0)) is not None
        for match in COMPARISONS.finditer(sentence.group(0)):
            if match.group(0).lower() in QUANTIFIERS and not outcome:
                continue
            yield Violation(
                path,
                _line_at(starts, sentence.start() + match.start()),
                match.group(0),
                "comparison: assert it in the code cell above, or glue a value here, or '% claims:' marker",
            )


def glue_violations(path: Path, blocks: list[Block], code: str) -> Iterator[Violation]:
    """Glue names used in the prose but never glued, or without the chapter's prefix."""
    defined = set(GLUE_CALL.findall(code))
    prefix = f"ch{path.stem[:2]}_" if path.stem[:2].isdigit() else None
    for block in blocks:
        for number, line in block.lines:
            for name in GLUE_ROLE.findall(line):
                if name not in defined:
                    yield Violation(path, number, name, "glued name used in the prose but no code cell glues it")
    if prefix:
        for name in sorted(defined):
            if not name.startswith(prefix):
                line = next(
                    n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if name in text
                )
                yield Violation(path, line, name, f"glue name must start with the chapter prefix {prefix!r}")


def check_file(path: Path) -> list[Violation]:
    """Every violation of the claims rule in one MyST Markdown file."""
    blocks, code = parse(path.read_text(encoding="utf-8"))
    found: list[Violation] = []
    for block in blocks:
        if block.exempt:
            continue
        found += number_violations(path, block)
        found += comparison_violations(path, block)
    found += glue_violations(path, blocks, code)
    return sorted(found, key=lambda v: v.line)


def check(paths: Iterable[Path]) -> list[Violation]:
    """Every violation in the given files, file by file."""
    return [violation for path in paths for violation in check_file(path)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] if args else chapter_sources()
    violations = check(paths)
    for violation in violations:
        print(violation)
    if violations:
        print(f"\n{len(violations)} claims-rule violations in {len({v.path for v in violations})} files.\n")
        print(HELP)
        return 1
    print(f"claims rule: {len(paths)} files clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
