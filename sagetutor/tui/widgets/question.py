"""One question as the learner answers it: the stem, then the answer widget its type needs.

``QuestionView(resolved, *, answer=None, id=None)`` renders a ``Resolved`` question
(``QuizRuntime.resolve``) and exposes the learner's answer in the form ``QuizRuntime.answer``
accepts; practice, exam and review all use it, so its public names are a contract:

* ``answer``: ``None`` until answered, then an option id (single), a list of option ids
  (multi), every item id in the learner's order (ordering), or ``{prompt id: option id}`` for
  the prompts matched so far (matching).
* ``answered``: the learner has given a whole answer (an option; ``select`` options for a
  multi question; touched the order; every prompt matched).
* ``QuestionView.Changed`` is posted whenever ``answer`` changes (``.question_view``,
  ``.answer``).

Ordering items start in a fixed shuffled order (from the question id, never the right one);
``ctrl+up``/``ctrl+down`` or ``[``/``]`` move the highlighted item, ``space`` keeps the order
as it stands.
"""

from __future__ import annotations

import random
import re
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import (
    Label,
    ListItem,
    ListView,
    Markdown,
    RadioButton,
    RadioSet,
    Select,
    SelectionList,
    Static,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TYPE_NAMES = {"single": "Choose one", "multi": "Choose {n}", "ordering": "Put in order",
              "matching": "Match each prompt"}


def plain(markdown: str) -> str:
    """Option text without the Markdown marks a one-line label cannot show (``**``, backticks)."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown)
    text = text.replace("**", "").replace("`", "")
    return " ".join(text.split())


def shuffled_order(ids: list[str], correct: list[str], salt: str) -> list[str]:
    """A fixed shuffle of ``ids`` (the same for the same question) that is never the right order."""
    order = list(ids)
    random.Random(salt).shuffle(order)
    if order == list(correct) and len(order) > 1:
        order = order[1:] + order[:1]
    return order


class OrderList(ListView):
    """Items to put in order: move the highlighted one with ctrl+up/ctrl+down or [ and ]."""

    BINDINGS = [
        Binding("ctrl+up,left_square_bracket", "move(-1)", "Move up"),
        Binding("ctrl+down,right_square_bracket", "move(1)", "Move down"),
        Binding("space", "keep", "Keep order", show=False),
    ]

    class Moved(Message):
        def __init__(self, order_list: OrderList) -> None:
            super().__init__()
            self.order_list = order_list

    def __init__(self, texts: dict[str, str], order: list[str], *, id: str | None = None) -> None:
        self.texts = texts
        self.order = list(order)
        self.touched = False
        super().__init__(*[ListItem(Label(self._line(i, x))) for i, x in enumerate(self.order)], id=id)

    def _line(self, index: int, item: str) -> Text:
        return Text(f"{index + 1}. {plain(self.texts[item])}")

    def _refresh_labels(self) -> None:
        for i, (child, item) in enumerate(zip(self.children, self.order, strict=False)):
            child.query_one(Label).update(self._line(i, item))

    def action_move(self, delta: int) -> None:
        i = self.index
        if i is None:
            return
        j = i + delta
        if not 0 <= j < len(self.order):
            return
        self.order[i], self.order[j] = self.order[j], self.order[i]
        self.touched = True
        self._refresh_labels()
        self.index = j
        self.post_message(self.Moved(self))

    def action_keep(self) -> None:
        if not self.touched:
            self.touched = True
            self.post_message(self.Moved(self))


class QuestionView(Vertical):
    """A resolved question (stem as Markdown, then RadioSet, SelectionList, OrderList or Selects)."""

    DEFAULT_CSS = """
    QuestionView { height: auto; padding: 0 1; }
    QuestionView .question-meta { color: $text-muted; }
    QuestionView .case-title { text-style: bold; color: $accent; }
    QuestionView Markdown { margin: 0; padding: 0 1; }
    QuestionView RadioSet { width: 1fr; }
    QuestionView SelectionList { height: auto; max-height: 12; }
    QuestionView OrderList { height: auto; max-height: 10; border: tall $border-blurred; }
    QuestionView OrderList:focus { border: tall $border; }
    QuestionView .match-row { height: auto; }
    QuestionView .match-row Select { width: 1fr; }
    QuestionView .choose-n { color: $text-muted; }
    """

    class Changed(Message):
        """The learner's answer changed."""

        def __init__(self, question_view: QuestionView, answer: Any) -> None:
            super().__init__()
            self.question_view = question_view
            self.answer = answer

        @property
        def control(self) -> QuestionView:
            return self.question_view

    def __init__(self, resolved: Any, *, answer: Any = None, id: str | None = None) -> None:
        super().__init__(id=id, classes="question-view")
        self.resolved = resolved
        self.question = resolved.question
        self.case = getattr(resolved, "case", None)
        self._initial = answer
        q = self.question
        self.option_ids = [o.id for o in getattr(q, "options", [])]
        if q.type == "ordering":
            given = list(answer) if answer else []
            if sorted(given) == sorted(self.option_ids):
                self._order = given
            else:
                self._order = shuffled_order(self.option_ids, q.correct_order, q.id)
        self._last: Any = self.answer_from_initial()

    # -- the answer -----------------------------------------------------------------------------
    def answer_from_initial(self) -> Any:
        a = self._initial
        if a is None:
            return None
        if self.question.type == "multi":
            return [x for x in self.option_ids if x in set(a)] or None
        if self.question.type == "matching":
            return dict(a) or None
        return list(a) if self.question.type == "ordering" else a

    @property
    def answer(self) -> Any:
        q = self.question
        if not self.is_mounted:
            return self._last
        if q.type == "single":
            index = self.query_one(RadioSet).pressed_index
            return self.option_ids[index] if index >= 0 else None
        if q.type == "multi":
            chosen = set(self.query_one(SelectionList).selected)
            return [x for x in self.option_ids if x in chosen] or None
        if q.type == "ordering":
            ol = self.query_one(OrderList)
            return list(ol.order) if ol.touched else None
        out = {}
        for p in q.prompts:
            value = self.query_one(f"#match-{_safe(p.id)}", Select).value
            if value is not Select.NULL and value is not None:
                out[p.id] = value
        return out or None

    @property
    def answered(self) -> bool:
        a = self.answer
        q = self.question
        if a is None:
            return False
        if q.type == "multi":
            return len(a) >= q.select
        if q.type == "matching":
            return len(a) == len(q.prompts)
        return True

    def _changed(self) -> None:
        now = self.answer
        if now != self._last:
            self._last = now
            self.post_message(self.Changed(self, now))

    # -- rendering ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        q = self.question
        bits = [TYPE_NAMES.get(q.type, q.type).format(n=getattr(q, "select", ""))]
        if q.domain:
            bits.append(f"domain: {q.domain}")
        if q.topics:
            bits.append("topics: " + ", ".join(q.topics))
        if q.scope:
            bits.append(q.scope)
        yield Static(Text((q.title or q.id) + "  ·  " + "  ·  ".join(bits)), classes="question-meta")
        if self.case is not None:
            yield Static(Text(f"Case study: {self.case.title or self.case.id}"), classes="case-title")
            yield Markdown(self.case.stem, classes="case-stem")
        yield Markdown(q.stem, classes="stem")
        if q.type == "single":
            yield RadioSet(*[RadioButton(Text(f"{LETTERS[i % 26]}. {plain(o.text)}"), value=o.id == self._initial)
                             for i, o in enumerate(q.options)], classes="answer-widget")
        elif q.type == "multi":
            chosen = set(self._initial or [])
            yield Label(Text(f"Choose {q.select}."), classes="choose-n")
            yield SelectionList[str](*[(Text(f"{LETTERS[i % 26]}. {plain(o.text)}"), o.id, o.id in chosen)
                                       for i, o in enumerate(q.options)], classes="answer-widget")
        elif q.type == "ordering":
            yield Label(Text("Move the highlighted step with ctrl+up / ctrl+down (or [ and ]); "
                             "space keeps the order as it is."), classes="choose-n")
            ol = OrderList({o.id: o.text for o in q.options}, self._order, id="order-list")
            ol.add_class("answer-widget")
            if self._initial:
                ol.touched = True
            yield ol
        else:
            given = dict(self._initial or {})
            choices = [(Text(plain(o.text)), o.id) for o in q.options]
            for p in q.prompts:
                with Vertical(classes="match-row"):
                    yield Label(Text(plain(p.text)), classes="match-prompt")
                    yield Select(choices, prompt="Choose…", value=given.get(p.id, Select.NULL),
                                 id=f"match-{_safe(p.id)}", classes="answer-widget")

    def focus_answer(self) -> None:
        """Put the keyboard focus on the answer widget (the first one for matching)."""
        widgets = self.query(".answer-widget")
        if widgets:
            widgets.first().focus()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self._changed()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        self._changed()

    def on_order_list_moved(self, event: OrderList.Moved) -> None:
        event.stop()
        self._changed()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed()


def _safe(ident: str) -> str:
    """An option or prompt id as a Textual widget id (ids may contain dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", ident)
