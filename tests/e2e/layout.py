"""Checks of what a page looks like, shared by the browser tests: controls cut off, a page wider than the window,
identifiers broken over two lines."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

# Every visible control (and every element a test names) that sticks out of the window, or out of an ancestor
# that clips its overflow (a scrolling table counts: a control one must scroll sideways to reach is cut off).
CLIPPED = """
(within) => {
  const width = document.documentElement.clientWidth;
  const name = (el) => {
    const id = el.getAttribute('data-testid');
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${id ? '[' + id + ']' : ''} "${text}"`;
  };
  const found = [];
  const controls = 'button, a[href], input, textarea, select, [role=combobox], [role=tab], [role=radio], [data-testid]';
  const root = within ? document.querySelector(within) : document;
  for (const el of root.querySelectorAll(controls)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    if (box.left < -1 || box.right > width + 1) {
      found.push(`${name(el)} reaches ${Math.round(box.left)}..${Math.round(box.right)} in a ${width} px window`);
      continue;
    }
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX === 'visible') continue;
      const frame = up.getBoundingClientRect();
      if (box.left < frame.left - 1 || box.right > frame.right + 1) {
        found.push(`${name(el)} is cut by ${name(up)} (${Math.round(box.right - frame.right)} px)`);
        break;
      }
    }
  }
  const page = document.documentElement.scrollWidth;
  if (page > width + 1) found.push(`the page is ${page} px wide in a ${width} px window`);
  return found;
}
"""

# Identifiers shown as links in lists that wrap onto a second line ("INC-" / "6013").
WRAPPED_IDS = """
(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.getClientRects().length > 1 || el.getBoundingClientRect().height > 1.6 *
    parseFloat(getComputedStyle(el).lineHeight || '20'))
  .map((el) => el.innerText)
"""


def clipped(page: Any, *, within: str = "", settle_ms: int = 3_000) -> list[str]:
    """What is cut off on ``page`` (only inside the element ``within`` selects, when given; empty when nothing
    is), once the layout has had ``settle_ms`` to catch up with a change of the window's size (charts redraw to
    their new width a moment later)."""
    # Still cut off after that: the evaluation below says what.
    with suppress(PlaywrightTimeout):
        page.wait_for_function(f"({CLIPPED})({within!r} || null).length === 0", timeout=settle_ms)
    return list(page.evaluate(CLIPPED, within or None))


def wrapped_ids(page: Any, selector: str) -> list[str]:
    """The texts of the elements matching ``selector`` that break over more than one line."""
    return list(page.evaluate(WRAPPED_IDS, selector))
