"""What a person would see is wrong with a rendered page, measured in the browser.

Each check returns a list of findings (empty when the page is right), so a test can report
every problem of every width at once instead of stopping at the first.
"""

from __future__ import annotations

import html
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

WIDTHS = {"desktop": 1280, "tablet": 768, "phone": 375}
HEIGHT = {"desktop": 900, "tablet": 1024, "phone": 812}
# WCAG 2.1 A and AA, and 2.2's target size (2.5.8, axe's tag "wcag22aa").
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
MIN_TARGET = 24  # WCAG 2.2, 2.5.8
MIN_PRIMARY = 44  # a primary action a thumb hits without looking twice
PRIMARY = ".button.primary, button.primary, .next-action, .button.big"

_axe = Axe()


def accessibility(page: Page) -> list[str]:
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    found = []
    for violation in results.response["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
        found.append(f"axe {violation['id']}: {violation['help']} ({'; '.join(targets)})")
    return found


def horizontal_overflow(page: Page, scrolls: str = "") -> list[str]:
    """The page, or a box inside it that scrolls sideways, is wider than the screen.

    `scrolls` names boxes made to scroll sideways (the admin's grid of results)."""
    return page.evaluate(
        """(scrolls) => {
        const found = [];
        const root = document.documentElement;
        if (root.scrollWidth > root.clientWidth + 1)
          found.push(`page is ${root.scrollWidth - root.clientWidth}px wider than the screen`);
        for (const el of document.querySelectorAll('body *')) {
          const x = getComputedStyle(el).overflowX;
          if ((x === 'auto' || x === 'scroll') && el.scrollWidth > el.clientWidth + 1
              && el.getClientRects().length && !(scrolls && el.matches(scrolls)))
            found.push(`${describe(el)} scrolls sideways by ${el.scrollWidth - el.clientWidth}px`);
        }
        return found;
        function describe(el) {
          return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
            + (el.classList.length ? '.' + [...el.classList].join('.') : '');
        }
    }""",
        scrolls,
    )


# A word split over two lines means its box is narrower than the word: the squeezed card
# that ran "Assembly" down a column a letter a line. Hyphens, dashes and slashes are break
# points, so the parts between them count as the words.
SPLIT_WORDS_JS = """() => {
  const found = [];
  const range = document.createRange();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest('.visually-hidden, script, style, template, option, select')) continue;
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const re = /[^\\s\\-\\u2010-\\u2015\\/]{2,40}/g;
    for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
        .map(r => Math.round(r.top)));
      if (lines.size > 1) {
        const box = el.getBoundingClientRect();
        found.push(`"${m[0]}" is split over ${lines.size} lines in `
          + `${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''} `
          + `${Math.round(box.width)}px wide`);
      }
    }
  }
  return found;
}"""


def split_words(page: Page) -> list[str]:
    return page.evaluate(SPLIT_WORDS_JS)


def target_sizes(page: Page) -> list[str]:
    """Controls smaller than 24px (WCAG 2.2 2.5.8), primary actions lower than 44px.

    A link inside a sentence is exempt, as 2.5.8 exempts it: its size is the text's."""
    return page.evaluate(
        """([minTarget, minPrimary, primary]) => {
        const found = [];
        const controls = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
        const boxes = [...document.querySelectorAll(controls)]
          .map(el => el.getBoundingClientRect()).filter(b => b.width && b.height);
        // 2.5.8's spacing exception: a smaller target whose 24px square, centred on it,
        // touches no other target is far enough from its neighbours.
        const spaced = box => {
          const cx = box.x + box.width / 2, cy = box.y + box.height / 2, r = minTarget / 2;
          return !boxes.some(o => o !== box && !(o.right <= cx - r || o.left >= cx + r
            || o.bottom <= cy - r || o.top >= cy + r) && !(o.x === box.x && o.y === box.y));
        };
        for (const el of document.querySelectorAll(controls)) {
          if (el.closest('.visually-hidden, .skip-link')) continue;
          // A box or a radio button is hit through its label as well.
          const label = el.matches('[type=checkbox], [type=radio]')
            && (el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)));
          const own = el.getBoundingClientRect(), by = label && label.getBoundingClientRect();
          const box = by && by.width * by.height > own.width * own.height ? by : own;
          if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
          const inSentence = el.tagName === 'A' && [...el.parentElement.childNodes].some(
            n => n.nodeType === 3 && /[A-Za-z]{2}/.test(n.data));
          const name = (el.innerText || el.value || el.name || el.id).trim().slice(0, 40);
          const what = `${el.tagName.toLowerCase()} "${name}"`;
          const size = `${Math.round(box.width)}x${Math.round(box.height)}px`;
          if (el.matches(primary) && box.height < minPrimary - 0.5)
            found.push(`primary ${what} is ${size}, under ${minPrimary}px tall`);
          else if (!inSentence && (box.height < minTarget - 0.5 || box.width < minTarget - 0.5)
                   && !spaced(box))
            found.push(`${what} is ${size}, under ${minTarget}px`);
        }
        return found;
    }""",
        [MIN_TARGET, MIN_PRIMARY, PRIMARY],
    )


def empty_labelled_fields(page: Page) -> list[str]:
    """A stacked table cell that shows its label ("Notes:") with nothing after it."""
    return page.evaluate(
        """() => [...document.querySelectorAll('td[data-label], th[data-label]')]
          .filter(el => el.getClientRects().length && !el.textContent.trim()
                  && !['none', 'normal'].includes(getComputedStyle(el, '::before').content))
          .map(el => `empty "${el.dataset.label}:" in ${el.closest('[id]')?.id}`)"""
    )


def everything(page: Page, scrolls: str = "") -> list[str]:
    return [
        *horizontal_overflow(page, scrolls),
        *split_words(page),
        *target_sizes(page),
        *empty_labelled_fields(page),
        *accessibility(page),
    ]


def write_gallery(folder: Path, pages: list[str]) -> Path:
    """index.html: each page's screenshots at the three widths side by side."""
    rows = []
    for name in pages:
        cells = "".join(
            f'<td><a href="{html.escape(png)}"><img src="{html.escape(png)}" '
            f'alt="{html.escape(name)} at {width}px" loading="lazy"></a></td>'
            if (folder / png).exists()
            else "<td>not taken</td>"
            for width, png in ((w, f"gallery-{name}-{label}.png") for label, w in WIDTHS.items())
        )
        rows.append(f"<tr><th scope='row'>{html.escape(name)}</th>{cells}</tr>")
    others = sorted(p.name for p in folder.glob("*.png") if not p.name.startswith("gallery-"))
    other_items = "".join(
        f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in others
    )
    heads = "".join(f"<th scope='col'>{label}, {w}px</th>" for label, w in WIDTHS.items())
    index = folder / "index.html"
    index.write_text(
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>eventplanner pages</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1rem}table{border-collapse:collapse}"
        "td,th{vertical-align:top;padding:.5rem;border:1px solid #ccc;text-align:left}"
        "img{display:block;width:20rem;height:auto;border:1px solid #999}</style>"
        "<h1>eventplanner: every page at three widths</h1>"
        f"<table><thead><tr><th scope='col'>page</th>{heads}</tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table><h2>Other screenshots</h2><ul>{other_items}</ul>",
        encoding="utf-8",
    )
    return index
