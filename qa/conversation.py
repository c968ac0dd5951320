"""Follow-up questions, without a language model: a question that leans on the one before ("What did he tell him
about Taiwan?", "And Wang Yi?", "What else was agreed?", "And in 2025?") is rewritten into one that stands alone, from
the previous question's names and time words, before retrieval. The rewrite is shown to the user ("Understood as").
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta

from .dates import parse_question
from .question import (asked_speaker, is_date, name_words, question_kind, role_holders, speaker_pronoun,
                       typed_candidates, untitled)
from .text import tokenize

# Openings that continue the previous question.
_CONTINUES = re.compile(r"^\W*(?:and|but|also|so|then|what about|how about|and what about)\b[\s,]*", re.I)
_ELSE = re.compile(r"\b(?:what|who|where|which|anything|anyone|something)\s+else\b|\bwhat other\b|\bwho other\b|"
                   r"\bany other\b|\banything more\b", re.I)
# "And a year earlier?", "the month after?": the previous question's time, moved.
_SHIFT = re.compile(r"^\W*(?:(?:and|but|what about|how about)\s+)*(?:(?P<n>a|one|two|three|\d+)\s+(?P<unit>year|month)s?\s+"
                    r"(?P<way>earlier|before|later|after)|the\s+(?P<unit2>year|month)\s+(?P<way2>before|after)|the\s+"
                    r"(?P<way3>previous|following|next)\s+(?P<unit3>year|month))\W*$", re.I)
_WH = re.compile(r"\b(?:what|who|whom|whose|where|when|which|how|why)\b", re.I)
_THAT = re.compile(r"\b(before|after|since|until)\s+(?:that|then)\b", re.I)
# a pronoun as the question's subject ("On what day of the week did it take place?"), however long the question
_SUBJECT_PRONOUN = re.compile(r"\b(?:did|does|do|was|were|is|are|has|have|had|will|would|can|could)\s+"
                              r"(?:it|that|this|those|these)\b", re.I)
# who said what the previous answer quoted
_SOURCE = re.compile(r"^\W*(?:(?:and|but|so)\s+)?(?:says?\s+who|who\s+says?(?:\s+so)?|who\s+said\s+(?:so|that|it|this)|"
                     r"according\s+to\s+(?:whom|who))\W*$", re.I)
_UNIT_THAT = re.compile(r"\bthe\s+(year|month)\s+(before|after)\s+(?:that|then)\b", re.I)  # "the month before that"
_LEADING_PREPOSITION = re.compile(r"^(?:with|for|about|to|from|in|on|at|of|by)\s+", re.I)
_STRONG_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs"}
# lean in a short question, or as a question's last word
_WEAK_PRONOUNS = {"it", "its", "that", "this", "those", "these", "there", "then"}
_SHORT = 6  # words
# "Where did Biden and Xi hold their talks?": "their" is the pair the question names before it, not the conversation's
_OWN_PAIR = re.compile(r"\b[A-Z][\w.'\u2019-]*\s+and\s+[A-Z][\w.'\u2019-]*\b.*\b(?:they|them|their|theirs)\b")
_PLURAL_PRONOUNS = {"they", "them", "their", "theirs"}
_ANSWER_NAMES = 3  # names of the previous answer carried into a follow-up
# A capitalised name (one or more words, "Wang Yi", "U.S.", "Track 1.5"); question words and openings are not names.
_NAME = re.compile(r"\b[A-Z][\w.'\u2019-]*(?:\s+(?:of\s+)?[A-Z0-9][\w.'\u2019-]*)*")
_NATIONALITY = re.compile(r"[A-Z][a-z]+(?:ese|ian|ean|ish|can)")  # Chinese, Russian, Korean, British, American
_NOT_NAMES = {"What", "Who", "Whom", "Whose", "When", "Where", "Which", "Why", "How", "And", "But", "Also", "So",
              "Then", "Did", "Does", "Do", "Was", "Were", "Is", "Are", "Has", "Have", "Had", "In", "On", "At", "After",
              "Before", "Since", "The", "A", "An", "Mr", "Mrs", "Ms", "I", "Any", "Anything", "Tell", "Can", "Could"}


@dataclass
class FollowUp:
    question: str  # as asked
    understood: str  # the question that stands alone, asked of the collection
    leans: bool  # whether it leaned on the conversation
    # "what else" after a list question: the turn whose quoted sentences are not to be quoted again (they gathered
    # its parts). After a question about one thing, the sentence that answered often names the others too ("... from
    # the status of Taiwan to trade, human rights or the war in Ukraine"), so nothing is left out.
    else_of: int | None = None
    # with ``else_of``, what it asks that the list question did not ("What else did it say they should promote?"
    # after "In which areas ... deepen cooperation?" -> promot): a sentence quoted for the list that holds one of these
    # is quoted again, as it was not quoted for them
    else_new: set[str] = field(default_factory=set)
    # what it newly asks, in its own words: its terms that are not names ("What did he say Washington must choose
    # between?" -> must, choose); none when it asks the previous question again ("Where?", "And Wang Yi?", "And on
    # the U.S. side?", "And in 2025?")
    asked: set[str] = field(default_factory=set)
    # the previous question asked again of others ("And with Wang Yi?" -> wang, yi): their names' terms; the
    # sentence that answered it for the one before answers it again only if it names one of them
    others: set[str] = field(default_factory=set)


@dataclass
class Turn:
    question: str
    understood: str
    quoted: set[tuple[str, int]] = field(default_factory=set)  # (article id, start) of the sentences it quoted
    lead_date: str | None = None  # the first quoted sentence's day ("before that")
    answer_names: list[str] = field(default_factory=list)  # who or what its answer named ("What did he say?")
    lead: tuple[str, int] | None = None  # (article id, start) of the sentence it quoted first
    lead_span: str | None = None  # the words marked as its answer in that sentence


def names(text: str, *, first_word: bool = False) -> list[str]:
    """The capitalised names of a text, in order, without question words. A single capitalised word opening the text
    is taken for a name only with ``first_word`` (it is usually just the sentence's capital: "Later", "According")."""
    out = []
    for m in _NAME.finditer(text):
        words = m.group().split()
        if m.start() == len(text) - len(text.lstrip(" \"'\u201c(")) and len(words) == 1 and not first_word:
            continue
        while words and words[0].rstrip("?,.") in _NOT_NAMES:
            words = words[1:]
        name = " ".join(words).rstrip("?,.'\u2019")
        if name and name not in out:
            out.append(name)
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'\u2019-]+", text.lower())


def leans_on_previous(question: str) -> bool:
    """Whether a question needs the conversation to be understood."""
    words = _words(question)
    if (_CONTINUES.match(question) or _ELSE.search(question) or _THAT.search(question)
            or _SUBJECT_PRONOUN.search(question)):
        return True
    strong = _STRONG_PRONOUNS & set(words)
    if strong <= _PLURAL_PRONOUNS and _OWN_PAIR.search(question):
        strong = set()
    if strong or (words and words[-1] in _WEAK_PRONOUNS):  # "... in it?", however long
        return True
    return len(words) <= _SHORT and (bool(_WEAK_PRONOUNS & set(words)) or not names(question))


def understand(question: str, history: list[Turn], encode=None, mentioned=None) -> FollowUp:
    """``question`` made to stand alone from the last turn of ``history`` (itself already understood). ``encode``
    (text -> unit vector) picks which name a new one replaces; without it, the first. ``mentioned`` (name -> bool),
    when given, says whether the collection mentions a name: one it never mentions is not carried (after "... about
    AI?", which the collection never mentions, "What did they talk about in Paris?" is of Biden and Xi, not AI)."""
    question = " ".join(question.split())
    if not history or not leans_on_previous(question):
        return FollowUp(question, question, False)
    previous = history[-1]
    asked = question
    if previous.lead_date:  # "before that": before what the last answer was about
        asked = _UNIT_THAT.sub(lambda m: _unit_from(previous.lead_date, m.group(1), m.group(2)), asked)
        asked = _THAT.sub(lambda m: f"{m.group(1)} {previous.lead_date}", asked)
    rest = _CONTINUES.sub("", asked).strip()
    own_names = names(rest, first_word=True)
    before = previous.understood.rstrip(" ?")
    time_words = _time_words(rest)
    bare = _LEADING_PREPOSITION.sub("", re.sub(r"[^\w\s]", "", rest)).strip()
    if _SOURCE.match(question):  # "Says who?": the previous question's answer, by whom it was said
        return FollowUp(question, f"Who said so? ({before}?)", True)
    if own_names and _same_words(bare, own_names, before):  # "And (his talks) with Wang Yi?": the same, of another
        return FollowUp(question, _swap_names(before, own_names, encode) + "?", True,
                        others=set(tokenize(" ".join(own_names))))
    if time_words and _only(rest, time_words):  # "And in 2025?": the same, at another time
        return FollowUp(question, f"{_drop_time(before)} {' '.join(time_words)}?", True)
    moved = _shifted_time(question, before)
    if moved:  # "And a year earlier?": the same, at the previous question's time moved
        return FollowUp(question, f"{_drop_time(before)} {moved}?", True)
    if not _WH.search(rest):  # "And on the U.S. side?": what is asked is the previous question's
        return FollowUp(question, f"{asked.rstrip(' ?')}? ({before}?)", True)
    asked, speaker = _name_the_speaker(asked, own_names, previous)
    # Its own time words replace the previous question's; the previous answer's names come first: "he" is more
    # often who was just named as the answer than who was asked about.
    times = [] if time_words else list(_time_words(before + "?"))
    context = []
    # An answer's own dates are not carried: read again without their sentence they lose their year ("in November"
    # would be this November) and scope the follow-up to the wrong time, or pull back the sentence already quoted.
    carried = [n for n in previous.answer_names if not is_date(n)] + names(before)
    for name in carried:
        if mentioned is not None and not is_date(name) and not mentioned(name):
            continue  # (a date is kept: it scopes the time, whether or not an article spells it out)
        if not _overlaps(name, own_names + speaker + context + times):
            context.append(name)
    context += times
    understood = f"{asked.rstrip(' ?')}? ({', '.join(context)})" if context else f"{asked} ({before}?)"
    own = _CONTINUES.sub("", question)  # its words as typed: "before that" is not a day it asks about
    else_of = len(history) - 1 if _ELSE.search(question) and question_kind(previous.understood).is_list else None
    named = set(tokenize(" ".join(names(own, first_word=True))))
    else_new = set()
    if else_of is not None:
        else_new = set(tokenize(_ELSE.sub(" ", own))) - named - set(tokenize(previous.understood))
    return FollowUp(question, understood, True, else_of, else_new, asked=set(tokenize(own)) - named)


def answer_names(answer, question: str) -> list[str]:
    """Who or what an answer named that its question did not: its marked span first (else the quoted names that
    hold the role asked for), then the other new names of its first quoted sentence."""
    if answer.abstained or not answer.sentences:
        return []
    lead, asked = answer.sentences[0], names(question)
    found: list[str] = []
    if lead.span_text:
        # the span only where it names someone or something: a count, a day or a quotation is no one "he" could be
        first = [lead.span_text] if names(lead.span_text, first_word=True) == [lead.span_text] else []
    else:
        # whom the quoted sentences give the role asked for ("Which US president ...?"), before the lead's own
        # names, of which the first may be a country's ("the presidents of China and the United States since Biden")
        first = role_holders(question, [s.text for s in answer.sentences])
    for name in map(untitled, first + names(lead.text)):
        if not _overlaps(name, asked + found):
            found.append(name)
    return found[:_ANSWER_NAMES]


def answer_span(answer, question: str) -> str | None:
    """The words an answer gave: its marked span, else the one span of the asked-for type its first sentence holds
    (the reader may be unsure of the words it moved up)."""
    if answer.abstained or not answer.sentences:
        return None
    lead, kind = answer.sentences[0], question_kind(question)
    if lead.span_text or kind.answer_type is None:
        return lead.span_text
    spans = typed_candidates(kind.answer_type, question, lead.text)
    return lead.text[spans[0][0][0]:spans[0][0][1]] if len(spans) == 1 else None


def _name_the_speaker(question: str, own_names: list[str], previous: Turn) -> tuple[str, list[str]]:
    """"What did he say ...?" with "he" made the one whose words are asked for (and that name): a name the question
    puts before it ("And Biden, what did he say?"), else whose words the previous question asked for, else whom its
    answer named when it asked who. Unchanged when none is known: no one's words then count above another's."""
    at = speaker_pronoun(question)
    if at is None:
        return question, []
    before = [name for name in own_names if -1 < question.find(name) < at[0]]
    who = before[0] if before else asked_speaker(previous.understood)
    if who is None and question_kind(previous.understood).answer_type == "name":
        who = next((name for name in previous.answer_names if not is_date(name)), None)
    return (question, []) if who is None else (question[:at[0]] + who + question[at[1]:], [who])


def _same_words(fragment: str, new_names: list[str], before: str) -> bool:
    """Whether a fragment with names says nothing but them besides words of the previous question and pronouns ("And
    his talks with Wang Yi?" after "How long did Blinken's Sunday talks with Qin Gang last?")."""
    for name in new_names:
        fragment = fragment.replace(name, " ")
    known = set(_words(before)) | _STRONG_PRONOUNS | _WEAK_PRONOUNS | {"and"}
    return all(word in known for word in _words(fragment))


def _overlaps(name: str, others: list[str]) -> bool:
    """Whether a name is one of ``others``, or part of one, or holds one, word for word ("Mr Blinken" and "Blinken",
    "Antony Blinken's" and "Antony Blinken"; not "U.S." and "China-U.S. Dialogue")."""
    words = name_words(name)
    return any(_within(words, name_words(other)) or _within(name_words(other), words) for other in others)


def _within(part: list[str], whole: list[str]) -> bool:
    return bool(part) and any(whole[i:i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def _time_words(text: str) -> tuple[str, ...]:
    """The time expressions of a question, as written (what they mean is the pipeline's business, with its day)."""
    return parse_question(text, dt.date.today()).expressions


def _shifted_time(question: str, before: str) -> str | None:
    """For "a year earlier" and the like, the previous question's date range moved, as time words ("in November
    2022"); None when the question is not one, or the previous question had no range."""
    m = _SHIFT.match(question)
    if not m:
        return None
    scope = parse_question(before + "?", dt.date.today())
    if not (scope.start and scope.end):
        return None
    n = {"a": 1, "one": 1, "two": 2, "three": 3}.get((m.group("n") or "a").lower()) or int(m.group("n"))
    unit = (m.group("unit") or m.group("unit2") or m.group("unit3")).lower()
    way = (m.group("way") or m.group("way2") or m.group("way3")).lower()
    step = relativedelta(**{f"{unit}s": -n if way in ("earlier", "before", "previous") else n})
    start = dt.date.fromisoformat(scope.start) + step
    end = dt.date.fromisoformat(scope.end) + dt.timedelta(1) + step - dt.timedelta(1)  # the end of a month stays one
    if start.day == 1 and start.month == 1 and (end.month, end.day) == (12, 31) and start.year == end.year:
        return f"in {start.year}"
    if start.day == 1 and (start.year, start.month) == (end.year, end.month) and (end + dt.timedelta(1)).day == 1:
        return f"in {start:%B %Y}"
    return f"between {start.isoformat()} and {end.isoformat()}"


def _unit_from(day: str, unit: str, way: str) -> str:
    """The year or month before (after) the one of an ISO day, as time words ("in October 2025")."""
    step = relativedelta(**{f"{unit.lower()}s": -1 if way.lower() == "before" else 1})
    moved = dt.date.fromisoformat(day) + step
    return f"in {moved.year}" if unit.lower() == "year" else f"in {moved:%B %Y}"


def _only(text: str, expressions: tuple[str, ...]) -> bool:
    left = text
    for e in expressions:
        left = left.replace(e, " ")
    return not re.sub(r"[^\w]|\b(?:what|about|how|and)\b", "", left, flags=re.I)


def _drop_time(question: str) -> str:
    for e in _time_words(question + "?"):
        question = question.replace(e, " ")
    return " ".join(question.split())


def _swap_names(question: str, new: list[str], encode) -> str:
    """The previous question about the new names: the name most like them ("Wang Yi" takes the place of "Qin Gang",
    not of "Blinken"; "Trump" that of "Biden") becomes the new ones."""
    old = names(question)
    # a name the question already holds ("And Trump?" after "What did Xi say in his call with Donald Trump?") is not
    # replaced: the two change places
    present = next((name for name in old if _overlaps(name, new)), None)
    old = [name for name in old if name != present]
    if not old:
        return f"{question} {' and '.join(new)}"
    # a nationality describes someone ("Chinese foreign minister Qin Gang"); it is not who a new name replaces
    old = [name for name in old if not _NATIONALITY.fullmatch(name)] or old
    replaced = old[0]
    speaker = asked_speaker(question)
    if present is not None and speaker is not None and speaker != present:
        replaced = speaker  # "And Trump?": now Trump's words, on the call with Xi
    elif encode is not None and len(old) > 1:
        target = encode(" ".join(new))
        replaced = max(old, key=lambda name: float(encode(name) @ target))
    if present is None:
        return question.replace(replaced, " and ".join(new), 1)
    return re.sub(f"{re.escape(replaced)}|{re.escape(present)}",
                  lambda m: " and ".join(new) if m.group() == replaced else replaced, question)
